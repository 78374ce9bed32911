"""Text training throughput: the plugin's train job beside a bare PyTorch/transformers loop, same model and batch.

Both train a GPT-2 built by plugins/text/networks.py on the same characters of the shared Tiny
Shakespeare (its first 90%), with the same batch, context, optimiser, schedule and thread count, in
alternating rounds so load on a shared machine hits both alike. Two figures for the job:
- loop: the job's own `train/tokens_per_s` over all its steps (eval_every = steps, so one interval
  covers the whole loop, with its progress reports, metrics and cancel checks);
- job: tokens over the time from submit to the job's end, which adds reading and tokenizing the corpus,
  building the model, one validation batch, saving and registering the model.

    nice -n 10 python bench/text_train_throughput.py --steps 100 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from aigc.core.testing import run_job
from aigc.plugins.text import networks
from aigc.plugins.text import tokenizer as tokenizers
from aigc.plugins.text.data import Batches, encode, read_corpus, split_tail
from aigc.plugins.text.params import TrainParams
from aigc.plugins.text.training import lr_at, make_optimizer

SHARED = Path(os.environ.get("AIGC_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def bare_loop(tokens: torch.Tensor, tokenizer: object, p: TrainParams, seed: int) -> float:
    """nanoGPT's train.py reduced to its loop, on transformers' GPT-2; returns tokens per second."""
    torch.manual_seed(seed)
    arch = networks.Architecture(p.n_layer, p.n_head, p.n_embd, p.context, p.dropout)
    model = networks.new_gpt2(arch, tokenizer).train()
    optimizer = make_optimizer(model, p, "cpu")
    batches = Batches(tokens, p.context, p.batch_size, seed)
    start = time.perf_counter()
    for step in range(p.steps):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, p.steps, p)
        x, y = batches.get(step)
        logits = model(input_ids=x).logits
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), p.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return p.steps * p.batch_size * p.context / (time.perf_counter() - start)


def plugin_job(params: dict[str, object]) -> tuple[float, float]:
    """One `text train` job in a temporary store: (loop tokens/s as the job measured it, end-to-end tokens/s)."""
    with tempfile.TemporaryDirectory(prefix="text-bench-") as folder:
        start = time.perf_counter()
        outcome = run_job("text", "train", params, Path(folder))
        seconds = time.perf_counter() - start
    if outcome.job.status != "succeeded":
        raise SystemExit(f"train job {outcome.job.status}: {outcome.job.error}")
    (loop,) = [value for key, _, value in outcome.metrics if key == "train/tokens_per_s"]
    tokens = int(params["steps"]) * int(params["batch_size"]) * int(params["context"])
    return loop, tokens / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(SHARED / "tinyshakespeare" / "input.txt"))
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--n-layer", type=int, default=4)
    parser.add_argument("--n-embd", type=int, default=192)
    parser.add_argument("--context", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    params = {
        "corpus": args.corpus,
        "steps": args.steps,
        "n_layer": args.n_layer,
        "n_head": 4,
        "n_embd": args.n_embd,
        "context": args.context,
        "batch_size": args.batch_size,
        "eval_every": args.steps,
        "eval_batches": 1,
        "checkpoint_every": args.steps + 1,
        "warmup_steps": 10,
        "seed": 0,
        "device": "cpu",
    }
    p = TrainParams(**params)
    train_text = split_tail(read_corpus(args.corpus, tokenizers.EOS), p.holdout)[0]
    tokenizer = tokenizers.char_tokenizer(train_text)
    tokens = encode(tokenizer, train_text)

    bare_loop(tokens, tokenizer, p.model_copy(update={"steps": 3}), 0)  # warm-up: first-call allocations
    bare, loop, job = [], [], []
    for round_ in range(1, args.rounds + 1):
        bare.append(bare_loop(tokens, tokenizer, p, 0))
        looped, whole = plugin_job(params)
        loop.append(looped)
        job.append(whole)
        print(
            f"round {round_}: bare loop {bare[-1]:7.0f} tok/s   job loop {loop[-1]:7.0f} tok/s   "
            f"job end to end {job[-1]:7.0f} tok/s",
            flush=True,
        )
    b, lo, j = statistics.median(bare), statistics.median(loop), statistics.median(job)
    size = networks.parameter_count(
        networks.new_gpt2(networks.Architecture(p.n_layer, p.n_head, p.n_embd, p.context, 0.0), tokenizer)
    )
    print(
        f"median over {args.rounds} rounds: GPT-2 {p.n_layer}x{p.n_embd} ({size / 1e6:.2f}M params), "
        f"{p.steps} steps of {p.batch_size}x{p.context} tokens, {args.threads} thread(s):"
    )
    print(f"  bare loop              {b:7.0f} tok/s")
    print(f"  text train job, loop   {lo:7.0f} tok/s   ratio {lo / b:.3f}  (target >= 0.90)")
    print(f"  text train job, whole  {j:7.0f} tok/s   ratio {j / b:.3f}")


if __name__ == "__main__":
    main()
