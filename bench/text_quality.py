"""Text model quality on the test part of the whole-play split: nats per character on the file's tail and
on the held-out play, per model and as the mean ± sd over models trained with different seeds.

The split is `scripts/text_split.py`'s (docs/text.md, "Choosing without peeking"): the test part is the
last 10% of Tiny Shakespeare's shared first 90% (100,385 characters, the tail every bundled model has
been scored on) and the whole of Richard II (126,019 characters); `--validation` adds the validation
play (The Winter's Tale), which is what recipes are compared on. Each file is scored by the plugin's own
evaluate job, in sliding windows of the model's context (stride: half of it).

    nice -n 10 python bench/text_quality.py                                  # the bundled default
    nice -n 10 python bench/text_quality.py --stores /tmp/text-1 /tmp/text-2 /tmp/text-3
    nice -n 10 python bench/text_quality.py --stores /tmp/candidate --validation --no-test

A store folder is one the documented training command wrote (`AIGC_DATABASE_URL=sqlite:///DIR/aigc.db`,
`AIGC_ARTIFACTS=DIR/art`); its newest text model is scored.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from aigc.core.config import Settings
from aigc.core.testing import run_job, temporary_settings

sys.path.insert(0, str(Path(__file__).parent))
from quality_stores import mean_sd, newest_model, store_settings  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("AIGC_SHARED_DATA") or REPO.parent / "shared" / "data")
TARGET = 1.33  # nats per character on the tail
TAIL, PLAY, VALIDATION = "test/tail.txt", "test/3-richard-ii.txt", "validation/6-winters-tale.txt"


def nats_per_char(settings: Settings, model: str, corpus: Path) -> float:
    outcome = run_job("text", "evaluate", {"corpus": str(corpus), "model": model, "device": "cpu"}, settings=settings)
    if outcome.job.status != "succeeded":
        raise SystemExit(f"evaluate job {outcome.job.status}: {outcome.job.error}")
    return float(outcome.summary["nats_per_char"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=Path, nargs="*", default=[], help="store folders; default: the bundled model")
    parser.add_argument("--text", type=Path, default=SHARED / "tinyshakespeare" / "input.txt")
    parser.add_argument("--validation", action="store_true", help="also score the validation play")
    parser.add_argument("--no-test", action="store_true", help="skip the test part (while choosing a recipe)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    parts = ([] if args.no_test else [TAIL, PLAY]) + ([VALIDATION] if args.validation else [])
    if not parts:
        raise SystemExit("nothing to score: --no-test needs --validation")

    with tempfile.TemporaryDirectory(prefix="text-quality-") as scratch:
        split = Path(scratch) / "split"
        subprocess.run(
            [sys.executable, str(REPO / "scripts" / "text_split.py"), str(args.text), str(split)], check=True
        )
        stores = [(store_settings(folder), str(folder)) for folder in args.stores]
        targets = [(settings, newest_model(settings, "text"), name) for settings, name in stores]
        if not targets:
            targets = [(temporary_settings(Path(scratch) / "store"), "default", "bundled default")]
        rows = []
        for settings, model, name in targets:
            start = time.perf_counter()
            rows.append((name, [nats_per_char(settings, model, split / part) for part in parts]))
            print(f"{name}: model {model}, {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)

    print(f"\nnats per character, sliding windows (stride: half the context), on {args.text}")
    print("\n| model | " + " | ".join(parts) + " |")
    print("|---" * (len(parts) + 1) + "|")
    for name, figures in rows:
        print(f"| {name} | " + " | ".join(f"{f:.4f}" for f in figures) + " |")
    if len(rows) > 1:
        columns = [[figures[i] for _, figures in rows] for i in range(len(parts))]
        print(f"| **mean ± sd of {len(rows)}** | " + " | ".join(mean_sd(c) for c in columns) + " |")
    if not args.stores and VALIDATION in parts:
        print("\nThe bundled model trained on final/, the validation play included: that figure is not a held-out one.")
    if TAIL in parts:
        tail = statistics.mean(figures[parts.index(TAIL)] for _, figures in rows)
        print(f"\ntail: mean {tail:.4f} nats/char (target ≤ {TARGET}: {'met' if tail <= TARGET else 'MISSED'})")


if __name__ == "__main__":
    main()
