"""What provenance labels cost: `aigc submit generate --plugin gan -p n=10000`, labels on and off, side by side.

Each repeat runs the real command in a fresh process against a fresh store, alternating: once as
shipped (every PNG gets its AIGC and XMP chunks), once with the runner's labelling step replaced by
a no-op (the only way to switch labels off: aigc has no setting for it). Also times the labelling
step alone over 10,001 results in-process. Target: labels add at most 5%.

    python bench/provenance_overhead.py [--n 10000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

TARGET = 0.05
UNLABELLED = (
    "import sys, aigc.core.runner as r; r.label_results = lambda results, stamp: results; "
    "from aigc.cli.main import main; main(sys.argv[1:])"
)


def end_to_end(n: int, labels: bool) -> float:
    with tempfile.TemporaryDirectory() as scratch:
        env = dict(os.environ, AIGC_HOME=scratch, AIGC_DATABASE_URL=f"sqlite:///{scratch}/aigc.db")
        env.pop("AIGC_BROKER_URL", None)
        subprocess.run([sys.executable, "-m", "aigc.cli", "db", "upgrade"], env=env, check=True, capture_output=True)
        args = ["submit", "generate", "--plugin", "gan", "-p", f"n={n}", "-p", "seed=1", "--json"]
        command = [sys.executable, "-m", "aigc.cli", *args] if labels else [sys.executable, "-c", UNLABELLED, *args]
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"generate failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
        import sqlite3

        with sqlite3.connect(f"{scratch}/aigc.db") as db:
            labelled = db.execute("select count(*) from results where instr(data, 'trainedAlgorithmicMedia') > 0")
            count = labelled.fetchone()[0]
        assert count == (n + 1 if labels else 0), f"labels={labels}: {count} labelled results"
    return wall


def labelling_alone(n: int) -> float:
    import numpy as np

    from aigc.core.context import PendingResult
    from aigc.core.images import encode_grey_png
    from aigc.core.provenance import Stamp, label_results

    rng = np.random.default_rng(0)
    results = [
        PendingResult(
            i, "image", "item", "image/png", encode_grey_png(rng.integers(0, 256, (28, 28), np.uint8)), None, i, {}
        )
        for i in range(n)
    ]
    started = time.perf_counter()
    label_results(results, Stamp("bench", 1, "gan", "generate", "0" * 64, 1))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    on, off = [], []
    for _ in range(args.repeats):
        off.append(end_to_end(args.n, labels=False))
        on.append(end_to_end(args.n, labels=True))
    alone = labelling_alone(args.n)
    m_on, m_off = statistics.median(on), statistics.median(off)
    print(f"labels off: {', '.join(f'{t:.2f}' for t in off)} s (median {m_off:.2f} s)")
    print(f"labels on:  {', '.join(f'{t:.2f}' for t in on)} s (median {m_on:.2f} s)")
    print(
        f"overhead: {m_on / m_off - 1:+.1%} (target at most {TARGET:.0%}); labelling {args.n} PNGs alone: {alone:.3f} s"
    )


if __name__ == "__main__":
    main()
