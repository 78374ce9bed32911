"""Params of the three jobs: pydantic only, so `aigc plugins` lists them without importing torch."""

from __future__ import annotations

from aigc.core.plugin_api import Field, JobParams, ModelParams

HOLDOUT_HELP = "the LAST fraction of the corpus that train leaves out and evaluate scores (0: all of it)"


class TrainParams(JobParams):
    corpus: str = Field(description="a UTF-8 text file to build the chain from")
    order: int = Field(default=4, ge=1, le=8, description="characters of context the chain looks back on")
    holdout: float = Field(default=0.1, ge=0, lt=1, description=HOLDOUT_HELP)
    name: str | None = Field(default=None, max_length=200, description="model name; default: markov-<order>-<corpus>")


class GenerateParams(ModelParams):
    n: int = Field(default=3, ge=1, le=100, description="how many texts to write")
    length: int = Field(default=200, ge=1, le=100_000, description="characters to add to the prompt, per text")
    prompt: str = Field(default="", max_length=10_000, description="text to continue")
    temperature: float = Field(
        default=1.0, gt=0, le=10, description="below 1 favours frequent continuations, above 1 flattens them"
    )


class EvaluateParams(ModelParams):
    corpus: str = Field(description="a UTF-8 text file to score")
    holdout: float = Field(default=0.1, ge=0, lt=1, description=HOLDOUT_HELP)
