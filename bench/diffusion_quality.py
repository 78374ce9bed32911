"""The diffusion plugin's bundled default: quality against real digits (as the gan plugin is measured) and
the time to generate 1,000 digits end to end.

Quality: the evaluate job on 2,000 digits with seeds 0, 10,000 and 20,000 (no generated digit shared),
real training digits beside them, at the default steps and guidance unless given. Speed: the real
`aigc submit generate --plugin diffusion -p n=1000` in a fresh process against a fresh store (interpreter
start, imports, the bundled model, sampling, 1,001 PNG results stored), `--repeats` times, with the machine's
load average printed beside each run.

    python bench/diffusion_quality.py [--samples 2000] [--seeds 0 10000 20000] [--steps 10] [--guidance 1]
    python bench/diffusion_quality.py --speed-only
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aigc.core.testing import run_job

sys.path.insert(0, str(Path(__file__).parent))
from timed_jobs import generate_seconds  # noqa: E402

SHARED = Path(os.environ.get("AIGC_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
TARGETS = {"fid_ratio": 1.39, "confident": 0.95, "coverage": 0.98, "seconds": 60.0}


def quality(args: argparse.Namespace) -> list[dict[str, Any]]:
    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        for seed in args.seeds:
            params: dict[str, Any] = {"data": str(args.data), "samples": args.samples, "seed": seed}
            params |= {"model": "default"}
            if args.steps is not None:
                params["steps"] = args.steps
            if args.guidance is not None:
                params["guidance"] = args.guidance
            started = time.perf_counter()
            outcome = run_job("diffusion", "evaluate", params, scratch)
            assert outcome.job.status == "succeeded", outcome.job.error
            print(f"seed {seed}: {time.perf_counter() - started:.0f} s, load {os.getloadavg()[0]:.1f}", flush=True)
            runs.append(outcome.summary)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 10_000, 20_000])
    parser.add_argument("--data", type=Path, default=SHARED / "mnist")
    parser.add_argument("--steps", type=int, default=None, help="default: the evaluate job's")
    parser.add_argument("--guidance", type=float, default=None, help="default: the evaluate job's")
    parser.add_argument("--n", type=int, default=1000, help="digits of the timed generate")
    parser.add_argument("--repeats", type=int, default=2, help="timed generate runs")
    parser.add_argument("--speed-only", action="store_true")
    parser.add_argument("--quality-only", action="store_true")
    args = parser.parse_args()

    if not args.speed_only:
        runs = quality(args)

        def cell(key: str) -> str:
            values = [run[key] for run in runs]
            spread = f" ± {statistics.stdev(values):.3f}" if len(values) > 1 else ""
            return f"{statistics.mean(values):.3f}{spread}"

        first = runs[0]
        print(
            f"\nmodel {first['model']}, {first['steps']} steps, guidance {first['guidance']}: {first['samples']} "
            f"generated and {first['real_samples']} real digits vs the last {first['reference']} of {args.data}; "
            f"seeds {args.seeds} (mean ± sd)\n"
        )
        print("| metric | generated | real training digits | target |")
        print("|---|---|---|---|")
        print(f"| FID (classifier features) | {cell('fid')} | {cell('real_fid')} | – |")
        print(f"| FID ratio generated / real | {cell('fid_ratio')} | 1 | ≤ {TARGETS['fid_ratio']} |")
        print(
            f"| share labelled with p > 0.9 | {cell('confident')} | {cell('real_confident')} | ≥ {TARGETS['confident']} |"
        )
        print(
            f"| class coverage (entropy / log 10) | {cell('coverage')} | {cell('real_coverage')} | ≥ {TARGETS['coverage']} |"
        )
        print(f"| classified as the digit asked for | {cell('digit_accuracy')} | – | – |")
        met = all(
            r["fid_ratio"] <= TARGETS["fid_ratio"]
            and r["confident"] >= TARGETS["confident"]
            and r["coverage"] >= TARGETS["coverage"]
            for r in runs
        )
        print("quality targets met for every seed" if met else "QUALITY TARGETS MISSED for at least one seed")
    if not args.quality_only:
        times = []
        for repeat in range(args.repeats):
            load = os.getloadavg()[0]
            times.append(generate_seconds("diffusion", args.n, seed=repeat + 1))
            print(f"generate n={args.n}, run {repeat + 1}: {times[-1]:.1f} s (load average before: {load:.1f})")
        best = min(times)
        verdict = "met" if best <= TARGETS["seconds"] else "MISSED"
        print(f"best {best:.1f} s for {args.n} digits end to end (target ≤ {TARGETS['seconds']:.0f} s: {verdict})")


if __name__ == "__main__":
    main()
