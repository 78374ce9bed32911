"""Text model quality: the bundled model's loss on the held-out last 10% of Tiny Shakespeare, in nats per character.

Runs the plugin's own evaluate job (split=validation: the tail the bundled model's train job never
trained on) with the sliding windows of its context, and prints the figure beside the target and
nanoGPT's references (measured on the same split: nanoGPT's shakespeare_char holds out the last 10% too).

    nice -n 10 python bench/text_quality.py
    nice -n 10 python bench/text_quality.py --stride 1    # every character with the full context before it
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

from aigc.core.testing import run_job

SHARED = Path(os.environ.get("AIGC_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
TARGET = 1.60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", default=str(SHARED / "tinyshakespeare" / "input.txt"))
    parser.add_argument("--model", default="default", help="'default' (bundled) or a model id of the store in env")
    parser.add_argument("--stride", type=int, default=None, help="default: half the context")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    params: dict[str, object] = {"corpus": args.text, "split": "validation", "model": args.model, "device": "cpu"}
    if args.stride:
        params["stride"] = args.stride
    start = time.perf_counter()
    if args.model == "default":
        with tempfile.TemporaryDirectory(prefix="text-bench-") as folder:
            outcome = run_job("text", "evaluate", params, Path(folder))
    else:
        from aigc.core.config import Settings

        outcome = run_job("text", "evaluate", params, settings=Settings.from_env())
    if outcome.job.status != "succeeded":
        raise SystemExit(f"evaluate job {outcome.job.status}: {outcome.job.error}")
    s = outcome.summary
    print(
        f"model {s['model']} on the last 10% of {args.text} ({s['chars']} characters, {s['tokens']} tokens), "
        f"context {s['context']}, stride {s['stride']}, {time.perf_counter() - start:.0f} s:"
    )
    print(
        f"  nats per character   {s['nats_per_char']:.4f}   (target <= {TARGET:.2f}: "
        f"{'met' if s['nats_per_char'] <= TARGET else 'NOT met'})"
    )
    print(f"  bits per character   {s['bits_per_char']:.4f}")
    print(f"  loss per token       {s['loss_per_token']:.4f}   perplexity {s['perplexity']:.3f}")
    print("  references (nanoGPT, same split): CPU 'baby' config ~1.88, 10.7M-parameter GPU config 1.47")


if __name__ == "__main__":
    main()
