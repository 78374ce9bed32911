"""Params of the text plugin's three jobs: pydantic only, so the CLI lists them without importing torch."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import field_validator, model_validator

from aigc.core.plugin_api import PRECISION_HELP, DataPath, DataPathOrHubName, Field, JobParams, ModelParams, Precision

CORPUS_HELP = (
    "UTF-8 text: one file, a folder of .txt files (sorted, joined as documents), or a glob such as 'data/*.txt'"
)
# Far more than any model here reads (8,192 tokens at most), yet a bound: a prompt is stored with its job.
PROMPT_CHARS = 100_000
# Stop strings: a few short markers, not documents.
StopString = Annotated[str, Field(max_length=200)]
# Architecture params a from-scratch model reads; with `base` the base model's own architecture is used.
ARCHITECTURE = ("tokenizer", "vocab_size", "n_layer", "n_head", "n_embd", "context")


class TrainParams(JobParams):
    deprecated_names = {"val_fraction": "holdout"}

    corpus: DataPath = Field(description=CORPUS_HELP)
    holdout: float = Field(
        default=0.1,
        ge=0,
        lt=0.5,
        description="the LAST fraction of the corpus is held out for validation (0: none; unused with validation)",
    )
    validation: DataPath | None = Field(
        default=None,
        description="UTF-8 text to score val_loss on instead of the corpus's tail; the whole corpus is then trained on",
    )
    base: DataPathOrHubName | None = Field(
        default=None,
        description="fine-tune this Hugging Face causal-LM (a local folder, or a hub name when online or cached) "
        "with its own tokenizer; default: a new GPT-2 from scratch",
    )
    tokenizer: Literal["char", "bpe"] = Field(
        default="char", description="from scratch: tokenizer trained on the corpus, characters or byte-level BPE"
    )
    vocab_size: int = Field(default=1024, ge=260, le=65536, description="bpe only: tokens in the vocabulary")
    n_layer: int = Field(default=4, ge=1, le=48, description="from scratch: transformer blocks")
    n_head: int = Field(default=4, ge=1, le=64, description="from scratch: attention heads (must divide n_embd)")
    n_embd: int = Field(default=192, ge=8, le=4096, description="from scratch: width of the residual stream")
    context: int = Field(
        default=128,
        ge=8,
        le=8192,
        description="tokens per training sequence; from scratch also the model's n_positions",
    )
    dropout: float = Field(default=0.0, ge=0, lt=1, description="dropout in every block (0 is best for short runs)")
    steps: int = Field(default=2000, ge=1, le=10_000_000, description="optimiser steps (ignored when epochs is given)")
    epochs: float | None = Field(
        default=None, gt=0, le=10_000, description="passes over the training tokens; sets steps when given"
    )
    batch_size: int = Field(default=32, ge=1, le=4096, description="sequences per optimiser step")
    lr: float = Field(default=2e-3, gt=0, le=1, description="peak AdamW learning rate")
    min_lr: float | None = Field(
        default=None, ge=0, le=1, description="learning rate at the end of the cosine; default lr/10"
    )
    warmup_steps: int = Field(default=100, ge=0, description="linear warm-up from 0 to lr, then cosine decay to min_lr")
    weight_decay: float = Field(
        default=0.1, ge=0, le=10, description="AdamW weight decay on matrices (not biases, norms)"
    )
    grad_clip: float = Field(default=1.0, ge=0, description="clip the gradient norm to this (0: no clipping)")
    precision: Precision = Field(default="auto", description=PRECISION_HELP)
    eval_every: int = Field(default=250, ge=1, description="steps between validation-loss estimates")
    eval_batches: int = Field(default=20, ge=1, le=10_000, description="batches per validation-loss estimate")
    checkpoint_every: int = Field(default=500, ge=1, description="steps between resumable checkpoints")
    save_dtype: Literal["float32", "float16", "bfloat16"] = Field(
        default="float32", description="dtype of the saved weights (float16 halves the size; loads in fp32)"
    )
    name: str | None = Field(default=None, max_length=200, description="model name; default: text-<arch>-<corpus>")

    @model_validator(mode="after")
    def _consistent(self) -> TrainParams:
        if self.base is None and self.n_embd % self.n_head:
            raise ValueError(f"n_head={self.n_head} must divide n_embd={self.n_embd}")
        if self.base is not None:
            # Compared with the defaults, not model_fields_set: the stored job re-validates a full dump.
            fields = type(self).model_fields
            changed = [k for k in ARCHITECTURE if k != "context" and getattr(self, k) != fields[k].default]
            if changed:
                raise ValueError(
                    f"{', '.join(changed)} cannot be set with base: a fine-tune keeps the base's architecture"
                )
        if self.min_lr is not None and self.min_lr > self.lr:
            raise ValueError(f"min_lr={self.min_lr} is above lr={self.lr}")
        return self


class GenerateParams(ModelParams):
    prompt: str | None = Field(
        default=None, max_length=PROMPT_CHARS, description="text to continue (or use prompts_file)"
    )
    prompts_file: DataPath | None = Field(default=None, description="a UTF-8 file: each non-empty line is one prompt")
    max_new_tokens: int = Field(
        default=200,
        ge=1,
        le=100_000,
        description="tokens to add per sequence; past the model's context the window slides (older text is dropped)",
    )
    temperature: float = Field(default=0.8, ge=0, le=10, description="sampling temperature; 0 is greedy")
    top_k: int | None = Field(default=None, ge=1, description="sample among the k most likely tokens only")
    top_p: float = Field(
        default=1.0, gt=0, le=1, description="nucleus sampling: smallest set with this much probability"
    )
    repetition_penalty: float = Field(default=1.0, gt=0, le=10, description="above 1 discourages repeating tokens")
    num_return_sequences: int = Field(
        default=1, ge=1, le=256, description="sequences per prompt, seeds seed, seed+1, ..."
    )
    stop: list[StopString] = Field(
        default_factory=list, max_length=16, description="stop a sequence at the first of these strings (cut before it)"
    )
    precision: Precision = Field(default="auto", description=PRECISION_HELP)

    @field_validator("stop", mode="before")
    @classmethod
    def _one_stop_is_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("stop")
    @classmethod
    def _no_empty_stop(cls, value: list[str]) -> list[str]:
        if any(s == "" for s in value):
            raise ValueError("stop strings must not be empty")
        return value

    @model_validator(mode="after")
    def _one_prompt_source(self) -> GenerateParams:
        if self.prompt is not None and self.prompts_file is not None:
            raise ValueError("give prompt or prompts_file, not both")
        if self.prompt is None and self.prompts_file is None:
            raise ValueError("a prompt is required: --prompt 'ROMEO:' (or -p prompt=..., or -p prompts_file=PATH)")
        if self.prompt == "":
            raise ValueError("prompt is empty: give the text to continue, e.g. --prompt 'ROMEO:'")
        return self


class EvaluateParams(ModelParams):
    deprecated_names = {"text": "corpus", "val_fraction": "holdout"}

    corpus: DataPath = Field(description="a UTF-8 text file to score")
    split: Literal["all", "validation"] = Field(
        default="all", description="all: the whole file; validation: only its last holdout fraction (train's hold-out)"
    )
    holdout: float = Field(default=0.1, gt=0, lt=1, description="split=validation: the fraction at the end scored")
    stride: int | None = Field(
        default=None,
        ge=1,
        description="tokens between sliding windows; each token is scored once with at least "
        "context-stride tokens before it; default: half the context",
    )
    batch_size: int = Field(default=16, ge=1, le=1024, description="windows per forward pass")
