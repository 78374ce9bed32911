"""Quality of GAN generators: the evaluate job at temperature 1.0 and at each model's calibrated
temperature, as the mean over models trained with different seeds.

Each model is scored by `evaluate` on the shared data: 2,000 generated digits and, beside them, 2,000 real
training digits, each against the last 2,000 digits (the test split: no train job and no choice of the
recipe used them; docs/gan.md, "Choosing without peeking"). Every model gets the same evaluation seeds
(0, 10,000, 20,000: digit i of seed s is drawn from seed s + i, so no digit is shared between them).
The figures of a model are the mean over those seeds; the last rows are the mean ± sd over the models.

    python bench/gan_quality.py                                   # the bundled default
    python bench/gan_quality.py --stores /tmp/gan-1 /tmp/gan-2 /tmp/gan-3

A store folder is one the documented training command wrote (`AIGC_DATABASE_URL=sqlite:///DIR/aigc.db`,
`AIGC_ARTIFACTS=DIR/art`); its newest gan model is scored.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from aigc.core.config import Settings
from aigc.core.testing import run_job, temporary_settings

sys.path.insert(0, str(Path(__file__).parent))
from quality_stores import mean_sd, newest_model, store_settings  # noqa: E402

SHARED = Path(os.environ.get("AIGC_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
TARGET_RATIO = 1.30  # FID ratio at temperature 1.0
COLUMNS = ("fid", "real_fid", "fid_ratio", "confident", "coverage", "digit_accuracy")


def scores(settings: Settings, model: str, data: Path, seeds: list[int], temperature: float | None) -> dict[str, Any]:
    """The mean of each column over the evaluation seeds, and the temperature used."""
    runs = []
    for seed in seeds:
        params: dict[str, Any] = {"data": str(data), "samples": 2000, "seed": seed, "model": model}
        if temperature is not None:
            params["temperature"] = temperature
        outcome = run_job("gan", "evaluate", params, settings=settings)
        assert outcome.job.status == "succeeded", outcome.job.error
        runs.append(outcome.summary)
    row = {key: statistics.mean(run[key] for run in runs) for key in COLUMNS if key in runs[0]}
    return row | {"temperature": runs[0]["temperature"], "reference": runs[0]["reference"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stores", type=Path, nargs="*", default=[], help="store folders; default: the bundled model")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 10_000, 20_000], help="evaluation seeds")
    parser.add_argument("--data", type=Path, default=SHARED / "mnist")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        stores = [(store_settings(folder), str(folder)) for folder in args.stores]
        targets = [(settings, newest_model(settings, "gan"), name) for settings, name in stores]
        if not targets:
            targets = [(temporary_settings(Path(scratch)), "default", "bundled default")]
        rows = []
        for settings, model, name in targets:
            at_one = scores(settings, model, args.data, args.seeds, 1.0)
            calibrated = scores(settings, model, args.data, args.seeds, None)
            rows.append((name, at_one, calibrated))
            print(f"{name}: model {model}, calibrated temperature {calibrated['temperature']}", flush=True)

    print(f"\nevaluation seeds {args.seeds}, 2,000 digits each, against the last {rows[0][1]['reference']} digits")
    print("\n| model | temperature | FID | real FID | FID ratio | p > 0.9 | coverage | digit asked for |")
    print("|---|---|---|---|---|---|---|---|")
    for name, *both in rows:
        for row in both:
            cells = " | ".join(f"{row[key]:.3f}" for key in COLUMNS if key in row)
            print(f"| {name} | {row['temperature']} | {cells} |")
    if len(rows) > 1:
        for label, index in (("1.0", 1), ("calibrated", 2)):
            cells = " | ".join(mean_sd([r[index][key] for r in rows]) for key in COLUMNS if key in rows[0][index])
            print(f"| **mean ± sd of {len(rows)}** | {label} | {cells} |")
    ratios = [r[1]["fid_ratio"] for r in rows]
    verdict = "met" if statistics.mean(ratios) <= TARGET_RATIO else "MISSED"
    print(f"\nFID ratio at temperature 1.0: mean {statistics.mean(ratios):.3f} (target ≤ {TARGET_RATIO}: {verdict})")


if __name__ == "__main__":
    main()
