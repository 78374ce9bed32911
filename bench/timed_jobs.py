"""Jobs timed the way the benches compare them: one embedded train job of an image plugin, and one
`aigc submit generate` run end to end in a fresh process against a fresh store."""

from __future__ import annotations

import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aigc.core.testing import run_job


def train_job_rates(plugin: str, params: dict[str, object], images: int) -> tuple[float, float]:
    """(end-to-end images/s, in-loop images/s) of one embedded `plugin` train job in a scratch store."""
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        outcome = run_job(plugin, "train", params, scratch)
        wall = time.perf_counter() - started
    assert outcome.job.status == "succeeded", outcome.job.error
    in_loop = statistics.mean(v for k, _, v in outcome.metrics if k == "train/images_per_s")
    return images / wall, in_loop


@contextmanager
def code_of(checkout: Path | None) -> Iterator[dict[str, str]]:
    """The environment that runs `checkout`'s aigc package (a worktree of an earlier commit, say) in a
    child process: the import package aigc, as pyproject's package-dir maps the four folders. None: ours."""
    env = dict(os.environ)
    if checkout is None:
        yield env
        return
    with tempfile.TemporaryDirectory() as tree:
        (Path(tree) / "aigc").mkdir()
        for part in ("core", "plugins", "worker", "cli"):
            (Path(tree) / "aigc" / part).symlink_to(checkout.resolve() / part)
        yield env | {"PYTHONPATH": tree}


def generate_seconds(plugin: str, n: int, seed: int, code: Path | None = None) -> float:
    """Wall seconds of `aigc submit generate --plugin PLUGIN -p n=N` in a fresh process and store (the
    bundled model's load, start-up, torch import and storing every PNG count); checks they were stored.
    With `code`, that checkout's aigc runs (and its bundled model)."""
    with tempfile.TemporaryDirectory() as scratch, code_of(code) as env:
        env |= {"AIGC_HOME": scratch, "AIGC_DATABASE_URL": f"sqlite:///{scratch}/aigc.db"}
        env |= {"AIGC_ARTIFACTS": f"{scratch}/artifacts"}
        env.pop("AIGC_BROKER_URL", None)
        # The store is created first (as `aigc` would on a first run) so the timing is of the job.
        subprocess.run([sys.executable, "-m", "aigc.cli", "db", "upgrade"], env=env, check=True, capture_output=True)
        command = [sys.executable, "-m", "aigc.cli", "submit", "generate", "--plugin", plugin]
        command += ["-p", f"n={n}", "-p", f"seed={seed}", "--json"]
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"generate failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
        with sqlite3.connect(Path(scratch) / "aigc.db") as db:
            stored = db.execute("select count(*) from results where mime = 'image/png'").fetchone()[0]
        assert stored == n + 1, f"expected {n} images and a grid in the store, found {stored}"
    return wall
