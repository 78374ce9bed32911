"""The text plugin's train job: a plain nanoGPT-style loop over random windows of the corpus.

One step: draw a batch, forward under autocast, cross-entropy on the next token, backward, clip,
AdamW step with the warm-up + cosine learning rate. Every `eval_every` steps the held-out tail is
scored; every `checkpoint_every` steps the model, optimiser, scaler and RNG are checkpointed so an
interrupted job resumes at that step and draws exactly the batches it would have drawn.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from aigc.core.plugin_api import JobContext, MixedPrecision, UsageError, mixed_precision, place_data
from aigc.plugins.text import networks
from aigc.plugins.text import tokenizer as tokenizers
from aigc.plugins.text.data import Batches, encode, read_corpus, split_tail
from aigc.plugins.text.params import TrainParams

LOG_EVERY = 10  # steps per point of the train/loss curve: reading the loss off a GPU waits for it


def train(ctx: JobContext, p: TrainParams) -> None:
    device = ctx.device
    state = ctx.load_checkpoint()
    text = read_corpus(p.corpus, separator=tokenizers.EOS)
    if p.validation is not None:
        train_text, val_text = text, read_corpus(p.validation, separator=tokenizers.EOS, what="validation")
    else:
        train_text, val_text = split_tail(text, p.holdout)

    model, tokenizer = build_model(p, train_text, state, ctx.seed)
    limit = networks.context_of(model)
    if limit is not None and p.context > limit:
        raise UsageError(f"context={p.context} is longer than the base model's {limit} positions; use context<={limit}")
    train_ids = encode(tokenizer, train_text)
    val_ids = encode(tokenizer, val_text) if val_text else None
    _check_lengths(p, train_ids, val_ids)
    steps = p.steps if p.epochs is None else math.ceil(p.epochs * len(train_ids) / (p.batch_size * p.context))

    model.to(device).train()
    # The token ids go to the device once if they fit there (`place_data`), else batches are copied over.
    train_batches = Batches(place_data(train_ids, device), p.context, p.batch_size, ctx.seed, device)
    val_batches = (
        Batches(place_data(val_ids, device), p.context, p.batch_size, 0, device) if val_ids is not None else None
    )
    optimizer = make_optimizer(model, p, device)
    amp = mixed_precision(ctx, p.precision)
    start = restore(state, optimizer, amp.scaler, device) if state is not None else 0

    loss_sum, loss_steps = torch.zeros((), device=device), 0  # summed on the device: no sync per step
    last_loss = float("nan")
    val_loss = float(state.get("val_loss", "nan")) if state else float("nan")
    t_interval = time.perf_counter()
    tokens_interval, tokens_per_s = 0, 0.0
    for step in range(start, steps):
        lr = lr_at(step, steps, p)
        for group in optimizer.param_groups:
            group["lr"] = lr

        x, y = train_batches.get(step)  # (B, T), (B, T)
        with amp.autocast():
            logits = model(input_ids=x).logits  # (B, T, vocab)
            loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), y.reshape(-1))
        backward_and_step(loss, model, optimizer, amp, p.grad_clip)
        loss_sum += loss.detach()
        loss_steps += 1
        tokens_interval += x.numel()
        done = step + 1

        if done % LOG_EVERY == 0 or done == steps:
            last_loss = loss_sum.item() / loss_steps
            loss_sum.zero_()
            loss_steps = 0
            ctx.log_metric("train/loss", last_loss, done)
            ctx.log_metric("train/lr", lr, done)
        if done % p.eval_every == 0 or done == steps:
            elapsed = time.perf_counter() - t_interval
            tokens_per_s = tokens_interval / elapsed if elapsed > 0 else 0.0
            ctx.log_metric("train/tokens_per_s", tokens_per_s, done)
            if val_batches is not None:
                val_loss = estimate_loss(model, val_batches, p.eval_batches, amp)
                ctx.log_metric("val/loss", val_loss, done)
            t_interval, tokens_interval = time.perf_counter(), 0  # eval time is not training time
        now = time.perf_counter()
        if tokens_interval and now > t_interval:
            tokens_per_s = tokens_interval / (now - t_interval)
        shown = {"loss": last_loss, "val_loss": val_loss}
        # Only known losses: NaN is not JSON, and the store keeps progress info as JSON.
        info = {key: round(value, 4) for key, value in shown.items() if math.isfinite(value)}
        ctx.progress(done, steps, **info, tok_s=round(tokens_per_s))
        if done % p.checkpoint_every == 0 and done < steps:
            ctx.save_checkpoint(checkpoint(model, optimizer, amp.scaler, tokenizer, done, val_loss, p, device))

    finish(ctx, p, model, tokenizer, steps, last_loss, val_loss, tokens_per_s, len(train_ids), amp.precision)


def backward_and_step(loss: torch.Tensor, model: Any, optimizer: Any, amp: MixedPrecision, grad_clip: float) -> None:
    """Backward, clip the gradient norm, step, and clear the gradients (fp16: with loss scaling)."""

    def clip() -> None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)

    amp.backward_and_step(loss, optimizer, clip if grad_clip > 0 else None)
    optimizer.zero_grad(set_to_none=True)


def restore(state: dict[str, Any], optimizer: Any, scaler: Any, device: str) -> int:
    """Put a checkpoint's optimiser, scaler and RNG state back; returns the step to continue from."""
    optimizer.load_state_dict(state["optimizer"])
    if scaler is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    torch.set_rng_state(state["rng"])  # dropout draws from the global generators
    if state.get("cuda_rng") is not None and device.startswith("cuda"):
        torch.cuda.set_rng_state(state["cuda_rng"], device)
    return int(state["step"])


def build_model(p: TrainParams, train_text: str, state: dict[str, Any] | None, seed: int) -> tuple[Any, Any]:
    """The base model to fine-tune, or a new GPT-2 with a tokenizer trained on the training text."""
    if p.base is not None:
        model, tokenizer = networks.load_base(p.base)
    else:
        if state is not None:
            tokenizer = tokenizers.from_json(state["tokenizer"])
        elif p.tokenizer == "char":
            tokenizer = tokenizers.char_tokenizer(train_text)
        else:
            tokenizer = tokenizers.bpe_tokenizer(train_text, p.vocab_size)
        torch.manual_seed(seed)
        arch = networks.Architecture(p.n_layer, p.n_head, p.n_embd, p.context, p.dropout)
        model = networks.new_gpt2(arch, tokenizer)
    if state is not None:
        model.load_state_dict(state["model"])
    return model, tokenizer


def _check_lengths(p: TrainParams, train_ids: torch.Tensor, val_ids: torch.Tensor | None) -> None:
    if len(train_ids) < p.context + 1:
        raise UsageError(
            f"the corpus has {len(train_ids)} training tokens, fewer than context+1={p.context + 1}; "
            "give more text or a smaller context"
        )
    if val_ids is not None and len(val_ids) < p.context + 1:
        if p.validation is not None:
            raise UsageError(
                f"validation {p.validation} has {len(val_ids)} tokens, fewer than context+1={p.context + 1}; "
                "give more validation text or a smaller context"
            )
        raise UsageError(
            f"the held-out tail (holdout={p.holdout}) has {len(val_ids)} tokens, fewer than "
            f"context+1={p.context + 1}; raise holdout, lower context, or set holdout=0"
        )


def make_optimizer(model: torch.nn.Module, p: TrainParams, device: str) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (embeddings and linear weights), as in nanoGPT."""
    params = [param for param in model.parameters() if param.requires_grad]
    groups = [
        {"params": [q for q in params if q.dim() >= 2], "weight_decay": p.weight_decay},
        {"params": [q for q in params if q.dim() < 2], "weight_decay": 0.0},
    ]
    fused = device.startswith("cuda")
    return torch.optim.AdamW(groups, lr=p.lr, betas=(0.9, 0.99), fused=fused or None)


def lr_at(step: int, steps: int, p: TrainParams) -> float:
    """Linear warm-up to lr over warmup_steps, then cosine decay to min_lr at the last step."""
    min_lr = p.min_lr if p.min_lr is not None else p.lr / 10
    if step < p.warmup_steps:
        return p.lr * (step + 1) / (p.warmup_steps + 1)
    progress = (step - p.warmup_steps) / max(1, steps - 1 - p.warmup_steps)
    return min_lr + 0.5 * (1 + math.cos(math.pi * min(1.0, progress))) * (p.lr - min_lr)


@torch.no_grad()
def estimate_loss(model: torch.nn.Module, batches: Batches, n: int, amp: MixedPrecision) -> float:
    """Mean next-token loss (nats per token) over the same n validation batches every time."""
    model.eval()
    total = 0.0
    for i in range(n):
        x, y = batches.get(i)
        with amp.autocast():
            logits = model(input_ids=x).logits
        total += F.cross_entropy(logits.float().view(-1, logits.size(-1)), y.reshape(-1)).item()
    model.train()
    return total / n


def checkpoint(
    model: Any, optimizer: Any, scaler: Any, tokenizer: Any, step: int, val_loss: float, p: TrainParams, device: str
) -> dict[str, Any]:
    # Cloned: GPT-2 ties lm_head to the token embedding, and safetensors refuses two names for one tensor.
    weights = {key: value.detach().clone() for key, value in model.state_dict().items()}
    return {
        "step": step,
        "model": weights,
        "optimizer": optimizer.state_dict(),
        "scaler": scaler.state_dict() if scaler is not None else None,
        "rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state(device) if device.startswith("cuda") else None,
        "tokenizer": tokenizers.to_json(tokenizer) if p.base is None else None,
        "val_loss": val_loss,
    }


def finish(
    ctx: JobContext,
    p: TrainParams,
    model: Any,
    tokenizer: Any,
    steps: int,
    train_loss: float,
    val_loss: float,
    tokens_per_s: float,
    train_tokens: int,
    precision: str,
) -> None:
    """Save the model as a Hugging Face folder and register it with its config and final losses."""
    model.eval()
    folder = networks.save_folder(model, tokenizer, Path(ctx.artifact_dir()) / "model", p.save_dtype)
    source = p.base or f"gpt2-{p.n_layer}l{p.n_head}h{p.n_embd}d-{p.tokenizer}"
    config = {
        "base": p.base,
        "tokenizer": p.tokenizer if p.base is None else "base",
        "vocab_size": len(tokenizer),
        "n_layer": model.config.get_text_config().num_hidden_layers,
        "context": p.context,
        "parameters": networks.parameter_count(model),
        "corpus": p.corpus,
        "holdout": p.holdout if p.validation is None else 0.0,
        "validation": p.validation,
        "steps": steps,
        "batch_size": p.batch_size,
        "lr": p.lr,
        "save_dtype": p.save_dtype,
        "precision": precision,
    }
    metrics = {"train_loss": train_loss}
    if not math.isnan(val_loss):
        metrics["val_loss"] = val_loss
    name = p.name or f"text-{Path(source).name}-{Path(p.corpus).stem}"
    ctx.save_model(folder, name=name, config=config, metrics=metrics)
    ctx.set_summary(
        **metrics,
        steps=steps,
        train_tokens=train_tokens,
        tokens_per_s=round(tokens_per_s, 1),
        parameters=config["parameters"],
    )
