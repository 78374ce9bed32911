#!/usr/bin/env bash
# Lint, format check and type check: what .ci/run runs before the tests.
#
# mypy reads the import package `aigc` through a link tree (aigc/core -> core, ...), since the four code
# folders only become `aigc.*` when installed (pyproject's package-dir) and mypy cannot follow an editable
# install's import hook.
set -euo pipefail
cd "$(dirname "$0")/.."

ruff check .
ruff format --check .

tree="$(mktemp -d)"
trap 'rm -rf "$tree"' EXIT
mkdir "$tree/aigc"
for part in core plugins worker cli; do
  ln -s "$PWD/$part" "$tree/aigc/$part"
done
MYPYPATH="$tree" mypy --config-file pyproject.toml --cache-dir "${MYPY_CACHE_DIR:-/tmp/aigc-mypy-cache}" \
  --namespace-packages --explicit-package-bases -p aigc
