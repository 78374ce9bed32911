"""The three jobs, each reporting through its `JobContext` only."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from aigc.core.plugin_api import JobContext, LoadedModel, UsageError, item_seed, load_tensors
from aigc_markov.chain import Chain, config_of, count_order, fits, vocabulary
from aigc_markov.params import EvaluateParams, GenerateParams, TrainParams

CHECK_EVERY = 256  # characters sampled between two cancellation checks


def train(ctx: JobContext, p: TrainParams) -> None:
    """Count the order-0..k tables one order at a time; each finished order is a checkpoint."""
    text, heldout = split(read_corpus(p.corpus), p.holdout)
    if len(text) <= p.order:
        raise UsageError(
            f"corpus {p.corpus} has {len(text)} characters to train on; an order-{p.order} chain needs more"
        )
    vocab = vocabulary(text)
    if not fits(len(vocab), p.order):
        raise UsageError(f"{len(vocab)} distinct characters are too many for order {p.order}; lower the order")
    ids = torch.searchsorted(vocab, torch.tensor([ord(c) for c in text], dtype=torch.int64))

    state = ctx.load_checkpoint() or {"done": 0, "tables": {}}  # a resumed attempt skips counted orders
    tables: dict[str, torch.Tensor] = state["tables"]
    for j in range(state["done"], p.order + 1):
        ctx.check_cancelled()
        tables[f"pairs.{j}"], tables[f"counts.{j}"] = count_order(ids, j, len(vocab))
        chain = Chain.from_state({"vocab": vocab, **tables}, j)
        metrics = {"train/pairs": float(len(tables[f"pairs.{j}"]))}
        if heldout:
            metrics["val/bits_per_char"] = float(chain.bits(chain.encode(heldout)).mean())
        for key, value in metrics.items():
            ctx.log_metric(key, value, step=j)  # the step of a chain's curves is its order
        ctx.progress(j + 1, p.order + 1, order=j, **metrics)
        ctx.save_checkpoint({"done": j + 1, "tables": tables})

    chain = Chain.from_state({"vocab": vocab, **tables}, p.order)
    final = {"val_bits_per_char": round(float(chain.bits(chain.encode(heldout)).mean()), 4)} if heldout else {}
    ctx.set_summary(train_chars=len(text), vocab_size=chain.size, **final)
    ctx.save_model(
        chain.state_dict(),
        name=p.name or f"markov-{p.order}-{Path(p.corpus).stem}",
        config=config_of(chain, train_chars=len(text)),
        metrics=final,
    )


def generate(ctx: JobContext, p: GenerateParams) -> None:
    """`n` texts, text i sampled with its own seed, item_seed(ctx.seed, i): one seed always writes the same text."""
    chain, model = load_model(ctx, p.model)
    history = chain.encode(p.prompt).tolist()
    for i in range(p.n):
        seed = item_seed(ctx.seed, i)
        generator = torch.Generator().manual_seed(seed)
        ctx.stream(("\n\n" if i else "") + p.prompt)
        written: list[int] = []
        while len(written) < p.length:
            chunk = chain.sample(history + written, min(CHECK_EVERY, p.length - len(written)), generator, p.temperature)
            written += chunk
            ctx.stream(chain.decode(chunk))
            ctx.check_cancelled()
        metadata = {"model": model.id, "prompt": p.prompt, "temperature": p.temperature}
        ctx.add_text(p.prompt + chain.decode(written), seed=seed, metadata=metadata)
        ctx.progress(i + 1, p.n)
    ctx.set_summary(model=model.id, texts=p.n, order=chain.order)


def evaluate(ctx: JobContext, p: EvaluateParams) -> None:
    """Bits per character of the held-out text, next to the order-0 (character frequency) baseline."""
    chain, model = load_model(ctx, p.model)
    _, heldout = split(read_corpus(p.corpus), p.holdout)
    text = heldout if p.holdout else read_corpus(p.corpus)
    if not text:
        raise UsageError(f"nothing to score: the last {p.holdout} of {p.corpus} is empty")
    ids = chain.encode(text)
    ctx.progress(0, 2)
    bits = float(chain.bits(ids).mean())
    ctx.progress(1, 2)
    baseline = float(chain.truncated(0).bits(ids).mean())
    ctx.progress(2, 2)
    ctx.set_summary(
        model=model.id,
        chars=len(ids),
        unknown_chars=int((ids < 0).sum()),
        bits_per_char=round(bits, 4),
        perplexity=round(2**bits, 3),
        baseline_bits_per_char=round(baseline, 4),
    )


def load_model(ctx: JobContext, ref: str | None) -> tuple[Chain, LoadedModel]:
    """The chain of model `ref` (None: the job's default model), with what the store records about it."""
    model = ctx.load_model(ref)
    tensors, metadata = load_tensors(model.path)
    if "vocab" not in tensors:
        raise UsageError(f"model {model.id} is not a markov model (it has no 'vocab' tensor)")
    return Chain.from_state(tensors, json.loads(metadata["config"])["order"]), model


def read_corpus(spec: str) -> str:
    path = Path(spec).expanduser()
    if not path.is_file():
        raise UsageError(f"corpus {spec} is not a file; give a UTF-8 text file")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{spec} is not UTF-8 text (invalid byte at offset {exc.start})") from None


def split(text: str, holdout: float) -> tuple[str, str]:
    """(training text, held-out text): the held-out text is the last `holdout` of the characters."""
    cut = len(text) - int(len(text) * holdout)
    return text[:cut], text[cut:]
