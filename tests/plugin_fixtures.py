"""A plugin author's shell for tests: a virtual environment that sees this aigc, with `aigc`, `pip`,
`pytest` and `python` on PATH, in which a test can `pip install -e` a package as a user would.

The environment is a venv that also sees this process's site-packages (so torch and the editable aigc
are there), without its own pip (pip runs from those site-packages, installing into the venv). `pip
install` gets `--no-build-isolation --no-index` added: the tests never reach the network.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

SHIMS = {
    "aigc": 'exec "{python}" -m aigc.cli "$@"',
    "pytest": 'exec "{python}" -m pytest -p no:cacheprovider "$@"',
    "pip": 'if [ "$1" = install ]; then shift; exec "{python}" -m pip install --no-build-isolation --no-index "$@"; fi\n'
    'exec "{python}" -m pip "$@"',
}


@dataclass(frozen=True)
class UserShell:
    venv: Path

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"

    def env(self, home: Path, **extra: str) -> dict[str, str]:
        """A clean environment: no AIGC_* settings but a private AIGC_HOME, the shims first on PATH."""
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("AIGC_", "PYTEST_", "VIRTUAL_ENV", "PYTHONPATH"))
        }
        env.update(
            AIGC_HOME=str(home),
            PATH=f"{self.bin}{os.pathsep}{env.get('PATH', '')}",
            COLUMNS="200",  # rich tables unwrapped, so a line of output is one row
            OMP_NUM_THREADS="1",
            PIP_DISABLE_PIP_VERSION_CHECK="1",
            PYTHONDONTWRITEBYTECODE="1",
            # Third-party pytest plugins of this machine (hypothesis...) cost seconds per run; a user's
            # plugin tests need none of them.
            PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
            **extra,
        )
        return env

    def run(
        self, command: str, cwd: Path, env: dict[str, str], timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", command],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def make_shell(root: Path) -> UserShell:
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    see_this_environment(venv)
    shell = UserShell(venv)
    for name, body in SHIMS.items():
        shim = shell.bin / name
        shim.write_text("#!/bin/sh\n" + body.format(python=shell.python) + "\n")
        shim.chmod(0o755)
    return shell


def see_this_environment(venv: Path) -> None:
    """Make the venv see every site-packages folder this process sees (after its own), .pth files included.

    `--system-site-packages` is not enough: when the tests run in a venv (as in CI) it would add the base
    interpreter's packages, not this venv's, and aigc would be missing.
    """
    [own] = (venv / "lib").glob("python*/site-packages")
    folders = [p for p in sys.path if p.endswith(("site-packages", "dist-packages")) and Path(p).is_dir()]
    lines = "".join(f"import site; site.addsitedir({folder!r})\n" for folder in folders)
    (own / "zz_outer_environment.pth").write_text(lines)


@pytest.fixture(scope="module")
def user_shell(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UserShell]:
    """A fresh environment per test module: what one module pip-installs, no other module sees."""
    yield make_shell(tmp_path_factory.mktemp("user-shell"))
