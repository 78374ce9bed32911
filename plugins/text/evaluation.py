"""The text plugin's evaluate job: how well a model predicts a text, in nats and bits per character.

Per-character figures divide the total negative log-likelihood of the text by its number of
characters, so models with different tokenizers compare; per-token loss and perplexity sit beside them.
The text is scored with sliding windows of the model's context: every token is predicted once, with
at least context - stride tokens before it (except near the start). A bos/eos token is put in front so
that the first token is predicted too and every character of the text counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from aigc.core.plugin_api import JobContext, UsageError
from aigc.plugins.text import networks
from aigc.plugins.text.checks import corpus_file
from aigc.plugins.text.data import encode, read_text, split_tail
from aigc.plugins.text.params import EvaluateParams

DEFAULT_CONTEXT = 1024  # for models that declare no position limit


@dataclass(frozen=True)
class Window:
    start: int  # first token read
    end: int  # one past the last token read
    first_target: int  # tokens before this were scored by an earlier window


def evaluate(ctx: JobContext, p: EvaluateParams) -> None:
    path = corpus_file(p.corpus)
    text = read_text(path)
    if p.split == "validation":
        text = split_tail(text, p.holdout)[1]
    if not text:
        raise UsageError(f"corpus {p.corpus} ({p.split}) is empty: nothing to score")

    lm, loaded = networks.load_model(ctx, p.model)
    model, tokenizer = lm.model, lm.tokenizer
    ids, chars = with_start_token(tokenizer, text)
    if len(ids) < 2:
        raise UsageError(f"corpus {p.corpus} is a single token; give more text to score")
    context = networks.context_of(model) or DEFAULT_CONTEXT
    stride = min(p.stride or max(1, context // 2), context - 1) if context > 1 else 1
    windows = sliding_windows(len(ids), context, stride)

    batches = batched(windows, p.batch_size)
    ids = ids.to(ctx.device)
    nll = 0.0
    for done, batch in enumerate(batches, start=1):
        nll += score(model, ids, batch)
        ctx.progress(done, len(batches))
    tokens = len(ids) - 1
    per_token = nll / tokens
    per_char = nll / chars
    ctx.set_summary(
        model=loaded.id,
        corpus=str(path),
        split=p.split,
        chars=chars,
        tokens=tokens,
        context=context,
        stride=stride,
        nats_per_char=per_char,
        bits_per_char=per_char / math.log(2),
        loss_per_token=per_token,
        perplexity=math.exp(min(per_token, 700.0)),
    )


def with_start_token(tokenizer: object, text: str) -> tuple[torch.Tensor, int]:
    """(ids to read, characters scored): a start token in front when the tokenizer has one."""
    ids = encode(tokenizer, text)
    start = getattr(tokenizer, "bos_token_id", None)
    if start is None:
        start = getattr(tokenizer, "eos_token_id", None)
    if start is not None:
        return torch.cat([torch.tensor([start]), ids]), len(text)
    # No start token: the first token is read, not predicted, so its characters are not counted.
    first = tokenizer.decode(ids[:1].tolist())  # type: ignore[attr-defined]
    return ids, len(text) - len(first)


def sliding_windows(n: int, context: int, stride: int) -> list[Window]:
    """Windows over n tokens, each `stride` after the last, scoring only the tokens not yet scored."""
    windows, scored = [], 1  # token 0 is only ever read
    start = 0
    while scored < n:
        end = min(start + context, n)
        windows.append(Window(start, end, scored))
        scored = end
        start = max(0, min(start + stride, n - context))
    return windows


def batched(windows: list[Window], size: int) -> list[list[Window]]:
    """Batches of windows of one length (only the last window of a short text can differ)."""
    batches: list[list[Window]] = []
    for window in windows:
        length = window.end - window.start
        if batches and len(batches[-1]) < size and batches[-1][0].end - batches[-1][0].start == length:
            batches[-1].append(window)
        else:
            batches.append([window])
    return batches


@torch.no_grad()
def score(model: torch.nn.Module, ids: torch.Tensor, batch: list[Window]) -> float:
    """Summed negative log-likelihood (nats) of the tokens each window scores."""
    inputs = torch.stack([ids[w.start : w.end] for w in batch])  # (B, T)
    # The start token is also the pad token: an explicit mask says none of it is padding.
    logits = model(input_ids=inputs, attention_mask=torch.ones_like(inputs)).logits.float()  # (B, T, vocab)
    logprobs = F.log_softmax(logits[:, :-1], dim=-1)  # position t predicts token t+1
    targets = inputs[:, 1:]
    picked = logprobs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (B, T-1)
    total = 0.0
    for row, w in enumerate(batch):
        total -= picked[row, w.first_target - w.start - 1 :].sum().item()
    return total
