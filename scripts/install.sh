#!/usr/bin/env bash
# Install aigc (editable, with its test extras) into the active Python environment.
#
# torch comes first and explicitly: on a machine without an NVIDIA GPU we want the CPU build, while a bare
# `torch` requirement would pull the multi-GB CUDA build. A local wheel folder (PIP_FIND_LINKS, /opt/wheels)
# that holds the CPU build is used as is; otherwise the CPU build comes from PyTorch's own index.
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_VERSION="${AIGC_TORCH_VERSION:-2.13.0}"
if python -c "import torch" 2>/dev/null; then
  echo "torch $(python -c 'import torch; print(torch.__version__)') already installed"
elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  python -m pip install "torch==${TORCH_VERSION}"
elif ls "${PIP_FIND_LINKS:-/opt/wheels}"/torch-"${TORCH_VERSION}"+cpu-*.whl >/dev/null 2>&1; then
  python -m pip install --find-links "${PIP_FIND_LINKS:-/opt/wheels}" "torch==${TORCH_VERSION}"
else
  python -m pip install --index-url https://download.pytorch.org/whl/cpu "torch==${TORCH_VERSION}"
fi

python -m pip install -e ".[test]"
