"""From `aigc plugins new demo` to a listed, working plugin whose tests pass: two commands, target < 60 s.

The two commands a plugin author types, timed one by one, then the two checks that prove the result:

    aigc plugins new demo       # 1. write the package
    pip install -e aigc-demo    # 2. install it (registers the entry point)
    aigc plugins                # check: 'demo' is listed, status ok
    pytest aigc-demo            # check: its own tests pass, unedited

Each run happens in a fresh virtual environment that sees this aigc (and torch, pip, pytest) through
this interpreter's site-packages, in a scratch folder. `pip install -e` is timed twice, side by side: as typed (pip builds
in an isolated environment, fetching setuptools from the package index) and offline
(`--no-build-isolation --no-index`, with the setuptools already installed).

    python bench/plugin_scaffold.py [--modality image|text] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 60.0


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    return time.perf_counter() - started, done


def see_this_environment(venv: Path) -> None:
    """The venv sees this interpreter's site-packages (aigc, torch, pip), after its own."""
    [own] = (venv / "lib").glob("python*/site-packages")
    folders = [p for p in sys.path if p.endswith(("site-packages", "dist-packages")) and Path(p).is_dir()]
    (own / "zz_outer_environment.pth").write_text("".join(f"import site; site.addsitedir({f!r})\n" for f in folders))


def flow(root: Path, modality: str, pip_flags: list[str]) -> dict[str, float] | str:
    """Seconds per step, or why the flow stopped."""
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    see_this_environment(venv)
    python = str(venv / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIGC_", "PYTHONPATH"))}
    env.update(AIGC_HOME=str(root / "home"), PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}")
    work = root / "work"
    work.mkdir()
    steps = {
        "aigc plugins new demo": [python, "-m", "aigc.cli", "plugins", "new", "demo", "--modality", modality],
        "pip install -e aigc-demo": [python, "-m", "pip", "install", "-q", *pip_flags, "-e", "aigc-demo"],
        "aigc plugins (check)": [python, "-m", "aigc.cli", "plugins", "--json"],
        "pytest aigc-demo (check)": [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "aigc-demo"],
    }
    times: dict[str, float] = {}
    for name, argv in steps.items():
        seconds, done = run(argv, work, env)
        if done.returncode != 0:
            return f"`{name}` failed ({done.returncode}): {(done.stderr or done.stdout).strip().splitlines()[-1:]}"
        if name.startswith("aigc plugins ("):
            listed = {p["name"]: p["status"] for p in json.loads(done.stdout)}
            if listed.get("demo") != "ok":
                return f"demo is not listed as ok: {listed.get('demo')}"
        times[name] = seconds
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modality", choices=["image", "text"], default="image")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folders (printed)")
    args = parser.parse_args()

    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} CPUs; modality {args.modality}\n")
    variants = {"as typed": [], "offline": ["--no-build-isolation", "--no-index"]}
    results: dict[str, dict[str, float] | str] = {}
    for label, flags in variants.items():
        root = Path(tempfile.mkdtemp(prefix=f"aigc-bench-scaffold-{label.replace(' ', '-')}-"))
        try:
            results[label] = flow(root, args.modality, flags)
        finally:
            if args.keep:
                print(f"kept {root}")
            else:
                shutil.rmtree(root, ignore_errors=True)

    names = ["aigc plugins new demo", "pip install -e aigc-demo", "aigc plugins (check)", "pytest aigc-demo (check)"]
    print(f"{'step':<28}" + "".join(f"{label:>12}" for label in variants))
    for name in names:
        cells = [f"{r[name]:>11.1f}s" if isinstance(r, dict) else f"{'-':>12}" for r in results.values()]
        print(f"{name:<28}" + "".join(cells))
    for total_name, keys in (("two commands", names[:2]), ("with both checks", names)):
        cells = [
            f"{sum(r[k] for k in keys):>11.1f}s" if isinstance(r, dict) else f"{'-':>12}" for r in results.values()
        ]
        print(f"{total_name:<28}" + "".join(cells))
    for label, result in results.items():
        if isinstance(result, str):
            print(f"\n{label}: {result}")
    ok = [sum(r[k] for k in names) for r in results.values() if isinstance(r, dict)]
    if ok:
        print(
            f"\ntarget: the two commands plus both checks under {TARGET_S:.0f} s: "
            f"{'met' if max(ok) < TARGET_S else 'NOT met'} (slowest {max(ok):.1f} s)"
        )


if __name__ == "__main__":
    main()
