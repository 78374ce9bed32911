"""What a text job needs of the machine that runs it: its corpus, its base model, prompts that fit the model.

Run before each attempt (and before an embedded job is stored) through `TextPlugin.check`. A prompt's
length is measured with the model's own tokenizer, so this loads transformers, as the job is about to.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aigc.core.plugin_api import JobParams, LoadedModel, UsageError
from aigc.plugins.text.params import EvaluateParams, GenerateParams, TrainParams


def check(params: JobParams, load_model: Callable[[], LoadedModel]) -> None:
    if isinstance(params, TrainParams):
        from aigc.plugins.text.data import corpus_files

        corpus_files(params.corpus)
        if params.validation is not None:
            corpus_files(params.validation, "validation")
        if params.base is not None:
            from aigc.plugins.text.networks import check_causal_lm

            check_causal_lm(params.base)
    elif isinstance(params, GenerateParams):
        from aigc.plugins.text.generation import read_prompts

        prompts = [params.prompt] if params.prompt is not None else read_prompts(str(params.prompts_file))
        model = load_model()
        if model.format == "hf":  # anything else: the job says what is wrong with the model
            check_prompts(prompts, model.path, model.sha256)
    elif isinstance(params, EvaluateParams):
        corpus_file(params.corpus)


def check_prompts(prompts: list[str], folder: Path, sha256: str | None = None) -> None:
    """Each prompt must leave the model room for one new token (`encode_prompt`, as the job encodes it)."""
    from aigc.plugins.text.generation import encode_prompt

    tokenizer, limit = prompt_reader(folder, sha256) if sha256 else _read(folder)
    for index, prompt in enumerate(prompts):
        encode_prompt(tokenizer, prompt, index, limit)


@functools.lru_cache(maxsize=4)
def prompt_reader(folder: Path, sha256: str) -> tuple[Any, int | None]:
    """The tokenizer and context of a verified model, kept per digest: a worker checking job after job
    on one model (twice per embedded job) loads them once, as it keeps the model warm."""
    return _read(folder)


def _read(folder: Path) -> tuple[Any, int | None]:
    from transformers import AutoConfig, AutoTokenizer

    from aigc.plugins.text.networks import context_of

    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    return tokenizer, context_of(AutoConfig.from_pretrained(folder, local_files_only=True))


def corpus_file(spec: str) -> Path:
    """The one text file an evaluate job scores."""
    path = Path(spec).expanduser()
    if not path.is_file():
        raise UsageError(f"corpus {spec} not found; give a UTF-8 text file to score")
    return path
