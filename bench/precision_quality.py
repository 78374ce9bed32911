"""Quality in bf16 vs fp32, side by side: GAN classifier-FID, VAE held-out ELBO, text held-out nats/char.

Each plugin trains twice in fp32 (seeds 1 and 2: the seed-to-seed spread is the noise a precision
change must stay within) and once in bf16 (seed 1), with the same small recipe, then is scored the way
docs/gan.md, vae.md and text.md score the bundled models. Without a GPU bf16 is CPU autocast, which
rounds like a GPU's bf16 (the question here is quality, not speed).

    OMP_NUM_THREADS=2 python bench/precision_quality.py [--digits 3000] [--epochs 3] [--text-steps 200]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from aigc.core.testing import run_job
from aigc.plugins.datasets.mnist import load_mnist, write_idx

SHARED = Path(os.environ.get("AIGC_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
RUNS = [("fp32", 1), ("fp32", 2), ("bf16", 1)]


def digits_folder(root: Path, count: int, holdout: int) -> Path:
    data = load_mnist(SHARED / "mnist")
    assert data.labels is not None
    folder = root / "digits"
    folder.mkdir()
    write_idx(folder / "train-images-idx3-ubyte.gz", data.images[: count + holdout])
    write_idx(folder / "train-labels-idx1-ubyte.gz", data.labels[: count + holdout])
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--digits", type=int, default=3000)
    parser.add_argument("--holdout", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--text-steps", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="aigc-precision-") as scratch:
        root = Path(scratch)
        data = str(digits_folder(root, args.digits, args.holdout))
        corpus = str(SHARED / "tinyshakespeare" / "input.txt")
        if not Path(corpus).is_file():
            corpus = str(Path(__file__).resolve().parents[1] / "tests" / "data" / "tinyshakespeare.txt")
        rows = []
        for precision, seed in RUNS:
            common = {"precision": precision, "seed": seed, "device": "cpu"}
            started = time.perf_counter()
            gan = run_job(
                "gan",
                "train",
                {"epochs": args.epochs, "data": data, "holdout": args.holdout, "calibrate": False} | common,
                root / f"gan-{precision}-{seed}",
            )
            assert gan.job.status == "succeeded", gan.job.error
            scored = run_job(
                "gan",
                "evaluate",
                {"data": data, "holdout": args.holdout, "samples": 1000, "seed": 0, "device": "cpu"},
                settings=gan.settings,
            )
            assert scored.job.status == "succeeded", scored.job.error
            vae = run_job(
                "vae",
                "train",
                {"epochs": args.epochs, "data": data, "test": 0, "holdout": args.holdout, "score_every": args.epochs}
                | common,
                root / f"vae-{precision}-{seed}",
            )
            assert vae.job.status == "succeeded", vae.job.error
            text = run_job(
                "text",
                "train",
                {"corpus": corpus, "tokenizer": "char", "steps": args.text_steps, "eval_every": args.text_steps}
                | {"n_layer": 2, "n_head": 4, "n_embd": 128, "context": 128, "batch_size": 16, "warmup_steps": 20}
                | common,
                root / f"text-{precision}-{seed}",
            )
            assert text.job.status == "succeeded", text.job.error
            rows.append(
                (
                    precision,
                    seed,
                    scored.summary["fid"],
                    vae.summary["val_neg_elbo"],
                    text.summary["val_loss"],
                    time.perf_counter() - started,
                )
            )
            print(f"{precision} seed {seed}: done in {rows[-1][-1]:.0f} s", flush=True)

    print(f"\n{args.digits} digits x {args.epochs} epochs (gan, vae); text: char GPT 2x128, {args.text_steps} steps")
    print(f"{'run':14} {'GAN FID':>9} {'VAE -ELBO':>10} {'text nats/char':>15}")
    for precision, seed, fid, elbo, nats, _ in rows:
        print(f"{precision + ' seed ' + str(seed):14} {fid:9.2f} {elbo:10.2f} {nats:15.4f}")
    (_, _, f1, e1, n1, _), (_, _, f2, e2, n2, _), (_, _, fb, eb, nb, _) = rows
    print(f"{'seed spread':14} {abs(f1 - f2):9.2f} {abs(e1 - e2):10.2f} {abs(n1 - n2):15.4f}")
    print(f"{'bf16 - fp32':14} {fb - f1:9.2f} {eb - e1:10.2f} {nb - n1:15.4f}")


if __name__ == "__main__":
    main()
