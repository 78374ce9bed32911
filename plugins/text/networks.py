"""The text plugin's networks: a GPT-2 built from scratch, a Hugging Face base to fine-tune, and loading/saving.

The architecture itself is `transformers`' GPT-2 (`GPT2LMHeadModel`): token + position embeddings,
n_layer pre-norm blocks of causal self-attention and a 4x MLP, a final LayerNorm and an LM head tied to
the token embedding. Shapes: ids (B, T) -> hidden (B, T, n_embd) -> logits (B, T, vocab).
Every model is saved with `save_pretrained`, so a folder we write loads with plain `transformers`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoTokenizer,
    GPT2Config,
    GPT2LMHeadModel,
    PretrainedConfig,
    PreTrainedModel,
)
from transformers.utils import logging as hf_logging

from aigc.core.plugin_api import JobContext, LoadedModel, UsageError, warm_model
from aigc.plugins.text import tokenizer as tokenizers

# A plugin reports through its JobContext: no progress bars on the job's stderr.
hf_logging.disable_progress_bar()

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass(frozen=True)
class Architecture:
    """What a from-scratch model is made of (the train params that shape it)."""

    n_layer: int
    n_head: int
    n_embd: int
    context: int  # n_positions: the longest sequence the model can read
    dropout: float


def new_gpt2(arch: Architecture, tokenizer: Any) -> GPT2LMHeadModel:
    """A randomly initialised GPT-2 sized by `arch`, its vocabulary that of `tokenizer`.

    Initialise under `torch.manual_seed`: GPT-2's init (normal std 0.02, residual projections scaled
    by 1/sqrt(2 n_layer)) draws from the global generator.
    """
    eos = tokenizer.eos_token_id
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=arch.context,
        n_embd=arch.n_embd,
        n_layer=arch.n_layer,
        n_head=arch.n_head,
        resid_pdrop=arch.dropout,
        embd_pdrop=arch.dropout,
        attn_pdrop=arch.dropout,
        bos_token_id=eos,
        eos_token_id=eos,
        pad_token_id=eos,
    )
    return GPT2LMHeadModel(config)


def context_of(model: PreTrainedModel | PretrainedConfig) -> int | None:
    """The longest sequence the model's position embeddings cover (None: no fixed limit is declared)."""
    config = model.config if isinstance(model, PreTrainedModel) else model
    for key in ("n_positions", "max_position_embeddings", "n_ctx", "seq_length"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def check_causal_lm(name: str) -> None:
    """Refuse, in one line, a `base` that is missing or is not a causal language model."""
    local = Path(name).expanduser().is_dir()
    try:
        config = AutoConfig.from_pretrained(name, local_files_only=local)
    except (OSError, ValueError) as exc:
        where = "folder has no usable config.json" if local else "is neither a local folder nor a cached hub model"
        raise UsageError(f"base '{name}' {where} ({_first_line(exc)})") from None
    if type(config) not in AutoModelForCausalLM._model_mapping:
        raise UsageError(
            f"base '{name}' is a {config.model_type} model, not a causal language model "
            "(give a GPT-2, Llama, Qwen... folder that AutoModelForCausalLM loads)"
        )


def load_base(name: str) -> tuple[PreTrainedModel, Any]:
    """A Hugging Face causal LM and its own tokenizer, in fp32 for training."""
    check_causal_lm(name)
    local = Path(name).expanduser().is_dir()
    model = AutoModelForCausalLM.from_pretrained(name, dtype=torch.float32, local_files_only=local)
    try:
        tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=local)
    except (OSError, ValueError, TypeError) as exc:
        raise UsageError(f"base '{name}' has no tokenizer that AutoTokenizer loads ({_first_line(exc)})") from None
    _ensure_pad(model, tokenizer)
    return model, tokenizer


@dataclass(frozen=True)
class LanguageModel:
    """A causal LM and the tokenizer it reads, loaded from one folder."""

    model: PreTrainedModel
    tokenizer: Any


def load_model(ctx: JobContext, ref: str | None, precision: str = "fp32") -> tuple[LanguageModel, LoadedModel]:
    """The language model of model `ref` (None: the job's default model) in eval mode on the job's
    device, with what the store records about it. Kept warm in the process between jobs (`warm_model`)."""
    model = ctx.load_model(ref)
    if model.format != "hf":
        raise UsageError(f"model {model.id} is a {model.format} file; a text model is a Hugging Face folder")
    device = ctx.device
    return warm_model(model.sha256, device, precision, lambda: LanguageModel(*load_trained(model.path, device))), model


def load_trained(path: Path, device: str) -> tuple[PreTrainedModel, Any]:
    """A model folder we saved (or any HF causal-LM folder), in fp32, in eval mode on `device`."""
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    _ensure_pad(model, tokenizer)
    model.to(device)  # type: ignore[arg-type]  # (transformers' wrapper of .to confuses mypy)
    return model.eval(), tokenizer


def _ensure_pad(model: PreTrainedModel, tokenizer: Any) -> None:
    # Generation wants a pad id; GPT-2-style models have none, and their eos serves.
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id


def save_folder(model: PreTrainedModel, tokenizer: Any, folder: Path, dtype: str = "float32") -> Path:
    """config.json + model.safetensors + generation_config.json + tokenizer files, in `dtype`.

    A narrower dtype rounds the model's own weights (they are cast there and back): save last.
    """
    folder.mkdir(parents=True, exist_ok=True)
    original = next(model.parameters()).dtype
    model.to(DTYPES[dtype])  # type: ignore[arg-type]
    model.save_pretrained(folder)  # safetensors
    model.to(original)  # type: ignore[arg-type]
    tokenizers.save(tokenizer, folder)
    return folder


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
