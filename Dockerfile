# One image for the CLI, the migration and the workers (compose.yaml).
# torch's Linux wheels bring their own CUDA runtime; the NVIDIA container toolkit adds the driver
# with its NVML library (the `utility` capability), which `aigc worker` asks for the GPU list (never CUDA).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    AIGC_HOME=/var/lib/aigc

WORKDIR /src
COPY pyproject.toml README.md ./
COPY core core
COPY plugins plugins
COPY worker worker
COPY cli cli
RUN pip install . && rm -rf /src/build

# Not root: Celery warns against it, and a job has no business owning the container.
RUN useradd --create-home --uid 1000 aigc \
    && mkdir -p /var/lib/aigc/artifacts \
    && chown -R aigc:aigc /var/lib/aigc
USER aigc
WORKDIR /home/aigc

# `aigc worker` forwards SIGTERM to its Celery processes: each job gets the soft-shutdown window.
STOPSIGNAL SIGTERM
CMD ["aigc", "--help"]
