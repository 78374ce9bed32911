"""The text plugin's generate job: continue each prompt with `model.generate`, streaming as it goes.

Each sequence is generated on its own with `torch.manual_seed(seed)`, its seed `item_seed(s, k)` = s + k
for the k-th sequence of a job with seed s: it is the same text as sequence 0 of a job with seed s+k, and a
seed always reproduces its text.
A model reads at most its context (n_positions) tokens. A prompt must fit in it with room for one new
token (else the job fails with a clear error); a longer continuation slides the window: when the
context is full, generation continues from its last half (older text is no longer seen).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from aigc.core.plugin_api import JobContext, UsageError, item_seed, mixed_precision
from aigc.plugins.text import networks
from aigc.plugins.text.data import read_text
from aigc.plugins.text.params import GenerateParams
from aigc.plugins.text.streaming import Continuation, StopWhen


def generate(ctx: JobContext, p: GenerateParams) -> None:
    amp = mixed_precision(ctx, p.precision)
    lm, loaded = networks.load_model(ctx, p.model, amp.precision)
    model, tokenizer = lm.model, lm.tokenizer
    # The params model guarantees exactly one of prompt and prompts_file.
    prompts = read_prompts(p.prompts_file) if p.prompts_file is not None else [p.prompt or ""]
    limit = networks.context_of(model)
    encoded = [encode_prompt(tokenizer, prompt, index, limit) for index, prompt in enumerate(prompts)]

    total = len(prompts) * p.num_return_sequences
    new_tokens, seconds = 0, 0.0
    for index, (prompt, ids) in enumerate(zip(prompts, encoded, strict=False)):
        for k in range(p.num_return_sequences):
            number = index * p.num_return_sequences + k
            seed = item_seed(ctx.seed, number)
            if number:
                ctx.stream("\n\n")
            ctx.stream(prompt)
            continuation = Continuation(tokenizer, p.stop, ctx.stream)
            started = time.perf_counter()
            # A cancel takes effect between tokens (check_cancelled asks the store at most once per interval).
            with amp.autocast():
                reason = sample(model, tokenizer, ids.to(ctx.device), p, seed, limit, continuation, ctx.check_cancelled)
            elapsed = time.perf_counter() - started
            continuation.finish()
            produced = len(continuation.ids)
            new_tokens, seconds = new_tokens + produced, seconds + elapsed
            ctx.add_text(
                prompt + continuation.text,
                seed=seed,
                role="item",
                metadata={
                    "model": loaded.id,
                    "prompt": prompt,
                    "prompt_index": index,
                    "sequence": k,
                    "prompt_chars": len(prompt),
                    "new_tokens": produced,
                    "stop_reason": reason,
                    "tokens_per_s": round(produced / elapsed, 1) if elapsed > 0 else None,
                    "temperature": p.temperature,
                    "top_k": p.top_k,
                    "top_p": p.top_p,
                    "repetition_penalty": p.repetition_penalty,
                },
            )
            ctx.progress(number + 1, total)
    ctx.set_summary(
        model=loaded.id,
        sequences=total,
        new_tokens=new_tokens,
        tokens_per_s=round(new_tokens / seconds, 1) if seconds else 0.0,
    )


def read_prompts(path: str) -> list[str]:
    file = Path(path).expanduser()
    if not file.is_file():
        raise UsageError(f"prompts_file {path} not found")
    prompts = [line for line in read_text(file).splitlines() if line.strip()]
    if not prompts:
        raise UsageError(f"prompts_file {path} holds no prompt (each non-empty line is one)")
    return prompts


def encode_prompt(tokenizer: Any, prompt: str, index: int, limit: int | None) -> torch.Tensor:
    """The prompt's ids (1, L), refusing a prompt that leaves the model no room for a new token."""
    ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
    if ids.shape[1] == 0:
        raise UsageError(f"prompt {index} encodes to no tokens; give some text to continue")
    if limit is not None and ids.shape[1] >= limit:
        raise UsageError(
            f"prompt {index} is {ids.shape[1]} tokens but the model reads at most {limit}; "
            f"shorten it to under {limit} tokens"
        )
    return ids


def sample(
    model: Any,
    tokenizer: Any,
    prompt_ids: torch.Tensor,
    p: GenerateParams,
    seed: int,
    limit: int | None,
    continuation: Continuation,
    tick: Callable[[], None],
) -> str:
    """Generate up to max_new_tokens after the prompt into `continuation`; returns why it stopped."""
    torch.manual_seed(seed)  # seeds CUDA too
    sampling: dict[str, Any] = {"do_sample": False}
    if p.temperature > 0:
        sampling = {"do_sample": True, "temperature": p.temperature, "top_k": p.top_k or 0, "top_p": p.top_p}
    eos = tokenizer.eos_token_id
    stop = StopWhen(continuation, tick)
    ids = prompt_ids  # (1, L): everything so far, prompt included
    window = ids
    while len(continuation.ids) < p.max_new_tokens:
        room = p.max_new_tokens - len(continuation.ids)
        if limit is not None:
            if window.shape[1] >= limit:
                window = ids[:, -(limit // 2) :]  # slide: continue from the last half of the context
            room = min(room, limit - window.shape[1])
        continuation.expect_prompt()
        out = model.generate(
            input_ids=window,
            attention_mask=torch.ones_like(window),
            max_new_tokens=room,
            repetition_penalty=p.repetition_penalty,
            streamer=continuation,
            stopping_criteria=[stop],
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=eos,
            **sampling,
        )  # (1, window + new)
        new = out[:, window.shape[1] :]
        ids, window = torch.cat([ids, new], dim=1), out
        if continuation.stopped:
            return "stop"
        if eos is not None and new.shape[1] and int(new[0, -1]) == eos:
            return "eos"
        if new.shape[1] < room:  # generate ended early for a reason of its own
            return "eos"
    return "max_new_tokens"
