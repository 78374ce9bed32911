#!/usr/bin/env bash
# The test command: prepare what the tests need on this machine, then run pytest in the active Python
# environment (the one `bash scripts/install.sh` installed into). Arguments go to pytest:
#   bash scripts/test.sh tests/test_cli.py -x
#
# - Redis and PostgreSQL on 127.0.0.1: scripts/services.sh starts them if they are installed but down.
# - Debian's chromium for the browser tests: apt-installed when we are root and apt-get exists (never
#   `playwright install`: nothing is downloaded while the tests run).
# What cannot be prepared is said here, and each test that needs it is skipped with the way to enable it
# (pytest -ra lists the reasons). Under CI=true nothing may be missing: this script stops, and such a
# test fails instead of skipping.
set -uo pipefail
cd "$(dirname "$0")/.."

missing() {
  echo "test.sh: $1" >&2
  if [ "${CI:-}" = true ]; then
    exit 1
  fi
}

if ! bash scripts/services.sh; then
  missing "Redis or PostgreSQL does not answer on 127.0.0.1 and could not be started (install redis-server and postgresql, then rerun as root)"
fi

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing Debian's chromium for the browser tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null ||
      missing "could not install chromium with apt-get"
  else
    missing "no /usr/bin/chromium for the browser tests: \`sudo apt-get install -y chromium\`, or rerun this as root"
  fi
fi

exec python -m pytest -q "$@"
