"""Quality of the bundled default generator: the evaluate job on 2,000 digits, real digits beside them.

Prints the table that docs/gan.md reports, with the targets of the GAN issue:
at least 90 % of generated digits labelled with p > 0.9, class coverage >= 0.97, and an FID no more
than 1.5x the FID of 2,000 real training digits against the same reference set.

    python bench/gan_quality.py [--model default] [--samples 2000] [--seeds 0 10000 20000]

Generated digit i of seed s is drawn from seed s + i, so the default seeds are 10,000 apart: seeds 0 and 1
would share all but one of their 2,000 digits.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from aigc.core.testing import run_job

SHARED = Path(os.environ.get("AIGC_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="default", help="'default' (bundled) or a model id of AIGC_DATABASE_URL")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 10_000, 20_000])
    parser.add_argument("--data", type=Path, default=SHARED / "mnist")
    parser.add_argument("--temperature", type=float, default=None, help="default: the model's calibrated one")
    args = parser.parse_args()

    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        for seed in args.seeds:
            params = {"data": str(args.data), "samples": args.samples, "seed": seed, "model": args.model}
            if args.temperature is not None:
                params["temperature"] = args.temperature
            if args.model == "default":
                outcome = run_job("gan", "evaluate", params, scratch)
            else:
                from aigc.core.config import Settings

                outcome = run_job("gan", "evaluate", params, settings=Settings.from_env())
            assert outcome.job.status == "succeeded", outcome.job.error
            runs.append(outcome.summary)

    def cell(key: str) -> str:
        values = [run[key] for run in runs]
        return f"{statistics.mean(values):.3f}" + (f" ± {statistics.stdev(values):.3f}" if len(values) > 1 else "")

    first = runs[0]
    print(
        f"model {first['model']} at temperature {first['temperature']}, {first['samples']} generated and "
        f"{first['real_samples']} real digits vs the last {first['reference']} of {args.data}; "
        f"seeds {args.seeds} (mean ± sd)\n"
    )
    print("| metric | generated | real training digits | target |")
    print("|---|---|---|---|")
    print(f"| FID (classifier features) | {cell('fid')} | {cell('real_fid')} | generated ≤ 1.5 × real |")
    print(f"| FID ratio generated / real | {cell('fid_ratio')} | 1 | ≤ 1.5 |")
    print(f"| share labelled with p > 0.9 | {cell('confident')} | {cell('real_confident')} | ≥ 0.90 |")
    print(f"| class coverage (entropy / log 10) | {cell('coverage')} | {cell('real_coverage')} | ≥ 0.97 |")
    if "digit_accuracy" in first:
        print(f"| classified as the digit asked for | {cell('digit_accuracy')} | – | – |")
    print(f"\nclassifier accuracy on the reference digits: {cell('reference_accuracy')}")
    ok = all(r["fid_ratio"] <= 1.5 and r["confident"] >= 0.9 and r["coverage"] >= 0.97 for r in runs)
    print("targets met for every seed" if ok else "TARGETS MISSED for at least one seed")


if __name__ == "__main__":
    main()
