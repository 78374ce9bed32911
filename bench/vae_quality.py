"""The vae plugin's quality on its test split, as the mean over models trained with different seeds, and
its generate speed beside another model's.

Quality: `aigc submit evaluate --plugin vae --model M` on the test split (the first 1,000 digits of the
shared file, which a train job never uses: docs/vae.md, "Choosing without peeking"), the same evaluation
seed for every model: negative ELBO and the importance-weighted NLL with k samples, in nats per digit.
Speed: `aigc submit generate --plugin vae -p n=N` in a fresh process for the first model and for the
`--against` model in turn (interpreter start, torch import, loading the model, storing n + 1 PNGs), in
alternating rounds, so load on the machine hits both; the ratio of their medians is the figure. With
`--against-code CHECKOUT` the `--against` model runs on that checkout's code (a worktree of an earlier
commit: `default` is then that commit's bundled model, generated as that commit did).

Both run against the store the AIGC_ variables name (the one the train jobs registered their models in):

    AIGC_DATABASE_URL=sqlite:////path/aigc.db AIGC_ARTIFACTS=/path/artifacts \\
    python bench/vae_quality.py --models 1 2 3 [--k 100] [--against default --n 1000 --rounds 3]
    git worktree add /tmp/before HEAD~1 && python bench/vae_quality.py --models 1 --speed-only \
        --against default --against-code /tmp/before
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from timed_jobs import code_of  # noqa: E402

SHARED = Path(os.environ.get("AIGC_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
TARGET_NEG_ELBO = 95.0
KEYS = ("neg_elbo", "bce", "kl", "iw_nll")


def aigc(*args: str, code: Path | None = None) -> dict[str, Any]:
    """One `aigc ... --json` command in a fresh process (on `code`'s aigc package if given); its printed
    job, which must have succeeded."""
    with code_of(code) as env:
        command = [sys.executable, "-m", "aigc.cli", *args, "--json"]
        done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"aigc {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    job: dict[str, Any] = json.loads(done.stdout)
    if job.get("status") != "succeeded":
        raise SystemExit(f"aigc {' '.join(args)}: job {job.get('id')} {job.get('status')}: {job.get('error')}")
    return job


def evaluate(model: str, data: Path, k: int) -> dict[str, Any]:
    params = ("-p", f"data={data}", "-p", f"k={k}", "-p", "seed=0")  # the same noise for every model
    return dict(aigc("submit", "evaluate", "--plugin", "vae", "--model", model, *params)["summary"])


def generate_seconds(model: str, n: int, seed: int, code: Path | None = None) -> float:
    started = time.perf_counter()
    aigc("submit", "generate", "--plugin", "vae", "--model", model, "-p", f"n={n}", "-p", f"seed={seed}", code=code)
    return time.perf_counter() - started


def quality(models: list[str], data: Path, k: int) -> None:
    rows = []
    for model in models:
        started = time.perf_counter()
        rows.append(evaluate(model, data, k))
        summary = rows[-1]
        scored = f"{summary['split']} digits {summary['first_index']}..{summary['first_index'] + summary['digits'] - 1}"
        print(f"model {model}: {scored}, {time.perf_counter() - started:.0f} s", flush=True)
    print(f"\n| model | negative ELBO | = BCE + KL | IWAE NLL, k = {k} |")
    print("| --- | --- | --- | --- |")
    for model, row in zip(models, rows, strict=True):
        print(f"| {model} | {row['neg_elbo']:.2f} | {row['bce']:.2f} + {row['kl']:.2f} | {row['iw_nll']:.2f} |")
    if len(rows) > 1:
        mean = {key: statistics.mean(row[key] for row in rows) for key in KEYS}
        sd = {key: statistics.stdev(row[key] for row in rows) for key in KEYS}
        print(
            f"| mean ± sd of {len(rows)} | **{mean['neg_elbo']:.2f} ± {sd['neg_elbo']:.2f}** | "
            f"{mean['bce']:.2f} + {mean['kl']:.2f} | **{mean['iw_nll']:.2f} ± {sd['iw_nll']:.2f}** |"
        )
    mean_elbo = statistics.mean(row["neg_elbo"] for row in rows)
    verdict = "met" if mean_elbo <= TARGET_NEG_ELBO else "MISSED"
    print(f"mean negative ELBO {mean_elbo:.2f} nats (target ≤ {TARGET_NEG_ELBO:.0f}: {verdict})")


def speed(model: str, against: str, code: Path | None, n: int, rounds: int) -> None:
    other = f"{against} on {code}" if code else against
    sides = {model: (model, None), other: (against, code)}
    times: dict[str, list[float]] = {model: [], other: []}
    for round_ in range(rounds):
        for name in (model, other) if round_ % 2 == 0 else (other, model):
            load = os.getloadavg()[0]
            times[name].append(generate_seconds(sides[name][0], n, round_, sides[name][1]))
            print(f"round {round_ + 1}: model {name}: {times[name][-1]:.2f} s (load before {load:.1f})", flush=True)
    medians = {name: statistics.median(values) for name, values in times.items()}
    ratio = medians[model] / medians[other]
    print(
        f"generate n={n}, median of {rounds} rounds: model {model} {medians[model]:.2f} s, "
        f"model {other} {medians[other]:.2f} s; ratio {ratio:.3f} (target ≤ 1.10)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", required=True, help="vae model ids in the store (or default)")
    parser.add_argument("--data", type=Path, default=SHARED / "mnist")
    parser.add_argument("--k", type=int, default=100, help="importance samples per digit")
    parser.add_argument("--against", help="time generate for the first model and this one")
    parser.add_argument("--n", type=int, default=1000, help="digits per timed generate")
    parser.add_argument("--against-code", type=Path, help="a checkout whose code runs the --against model")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--speed-only", action="store_true")
    args = parser.parse_args()
    if not args.speed_only:
        quality(args.models, args.data, args.k)
    if args.against:
        speed(args.models[0], args.against, args.against_code, args.n, args.rounds)


if __name__ == "__main__":
    main()
