"""Warm models: back-to-back generate jobs on one ~500 MB text model, vs a bare warm `model.generate`.

Builds a GPT-2-shaped model (12 layers, 12 heads, 768 wide, 1,024 positions, 50,257 tokens) from a
config with a BPE tokenizer trained on the test corpus, saves it with `save_pretrained` in a scratch folder (never kept),
registers it in a scratch store, then, in this one process, side by side:
  job 1     `generate` end to end (submit, run, results read back): verifies the model's sha256, loads it
  job 2     the same job again: the worker-process cache (AIGC_MODEL_CACHE) hands back the loaded model
  bare      `model.generate` on the model already loaded, same prompt, same greedy decoding, same length
Target: job 2 <= 1.2x bare.

    OMP_NUM_THREADS=2 python bench/warm_models.py [--tokens 32] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
GPT2_VOCAB = 50_257


def build(folder: Path) -> Path:
    from aigc.plugins.text import networks
    from aigc.plugins.text import tokenizer as tokenizers

    text = (REPO / "tests" / "data" / "tinyshakespeare.txt").read_text()
    tokenizer = tokenizers.bpe_tokenizer(text, 16_384)
    # GPT-2's vocabulary size (and so its ~500 MB): the small corpus yields fewer merges, the rest are
    # added tokens that the prompt never uses.
    tokenizer.add_tokens([f"<pad{i}>" for i in range(GPT2_VOCAB - len(tokenizer))])
    torch.manual_seed(0)
    model = networks.new_gpt2(networks.Architecture(12, 12, 768, 1024, 0.0), tokenizer)
    networks.save_folder(model, tokenizer, folder)
    return folder


def register(settings: object, folder: Path) -> str:
    from aigc.core.store import Model, Store

    store = Store(settings)  # type: ignore[arg-type]
    sha = store.artifacts.put_folder(folder)
    with store.transaction() as session:
        row = Model(plugin="text", name="gpt2-12x768-bench", source_job_id=None, sha256=sha, format="hf", config={})
        session.add(row)
        session.flush()
        return str(row.id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from aigc.core.testing import run_job, temporary_settings
    from aigc.plugins.text import networks

    with tempfile.TemporaryDirectory(prefix="aigc-warm-") as scratch:
        root = Path(scratch)
        folder = build(root / "gpt2")
        size_mb = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6
        settings = temporary_settings(root / "store")
        model_id = register(settings, folder)
        params = {"model": model_id, "prompt": "ROMEO:", "max_new_tokens": args.tokens, "temperature": 0, "seed": 1}
        params["device"] = "cpu"

        inside: list[float] = []  # the job's own generate time (its tokens/s figure): the rest is overhead

        def job() -> tuple[float, int]:
            started = time.perf_counter()
            outcome = run_job("text", "generate", params, settings=settings)
            wall = time.perf_counter() - started
            assert outcome.job.status == "succeeded", outcome.job.error
            meta = outcome.items[0].meta
            inside.append(meta["new_tokens"] / meta["tokens_per_s"])
            return wall, int(meta["new_tokens"])

        first, produced = job()
        model, tokenizer = networks.load_trained(folder, "cpu")
        ids = tokenizer("ROMEO:", add_special_tokens=False, return_tensors="pt")["input_ids"]

        def bare() -> float:
            started = time.perf_counter()
            with torch.inference_mode():
                out = model.generate(
                    input_ids=ids,
                    attention_mask=torch.ones_like(ids),
                    max_new_tokens=args.tokens,
                    do_sample=False,
                    pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=tokenizer.eos_token_id,
                )
            assert out.shape[1] - ids.shape[1] == produced, "the job and the bare call made different lengths"
            return time.perf_counter() - started

        bare()  # warm
        warm, bares = [], []
        for _ in range(args.repeats):  # alternated, so a busy machine slows both alike
            warm.append(job()[0])
            bares.append(bare())
        second, base = statistics.median(warm), statistics.median(bares)
        print(
            f"model: GPT-2 12x768, {size_mb:.0f} MB on disk, {produced} new tokens, {torch.get_num_threads()} thread(s)"
        )
        print(f"job 1 (cold: hash + load + generate)  {first:6.2f} s")
        print(
            f"job 2+ (warm), median of {args.repeats}        {second:6.2f} s   ({first / second:.1f}x faster than job 1)"
        )
        print(f"  of which generating (the job's own tokens/s), median {statistics.median(inside[1:]):6.2f} s")
        print(f"bare warm model.generate, median       {base:6.2f} s")
        print(f"warm job / bare = {second / base:.2f} (target <= 1.2)")


if __name__ == "__main__":
    main()
