"""The plugin contract: what a generator plugin declares and the three jobs it answers.

A plugin author reads this file and `context.py`, and nothing else of the core. Importing a plugin
class must stay cheap: import torch/transformers inside the job methods or in a model module, so
that `aigc plugins` lists every plugin without loading them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from aigc.core.context import JobContext

# Bumped only when the contract changes incompatibly; a plugin written for another
# version is listed as broken instead of being half-loaded.
CONTRACT_VERSION = 1


class JobKind(StrEnum):
    train = "train"
    generate = "generate"
    evaluate = "evaluate"


class Modality(StrEnum):
    image = "image"
    text = "text"


class JobParams(BaseModel):
    """Base of every params model: unknown keys are errors, and every job has a seed and a device."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int | None = Field(
        default=None, ge=0, le=2**32 - 1, description="random seed; drawn and recorded when omitted"
    )
    device: str = Field(
        default="auto",
        pattern=r"^(auto|cpu|cuda(:\d+)?|mps)$",
        description="auto (CUDA when present, else CPU), cpu, cuda, cuda:N or mps",
    )


class ModelParams(JobParams):
    """Params of a job that reads a model: `--model ID` on the command line sets `model`."""

    model: str | None = Field(
        default=None,
        description="model id; default: the newest trained model of the plugin, else the bundled one",
    )


class Plugin:
    """Subclass this, set the class attributes and implement the three jobs.

    Each job method receives a `JobContext` and a validated instance of its params model. It reports
    through the context (progress, metrics, results, checkpoints, models) and never prints.
    """

    name: ClassVar[str]
    modality: ClassVar[Modality]
    description: ClassVar[str] = ""
    contract: ClassVar[int] = CONTRACT_VERSION
    # "gpu" when the plugin is only worth running on a GPU node; "cpu" when it never uses one.
    queue: ClassVar[Literal["gpu", "cpu"]] = "gpu"
    # A file (or folder) inside the plugin's package holding its bundled default model.
    bundled_model: ClassVar[str | None] = None

    TrainParams: ClassVar[type[JobParams]] = JobParams
    GenerateParams: ClassVar[type[JobParams]] = ModelParams
    EvaluateParams: ClassVar[type[JobParams]] = ModelParams

    def train(self, ctx: JobContext, params: JobParams) -> None:
        raise NotImplementedError(f"plugin '{self.name}' does not train")

    def generate(self, ctx: JobContext, params: JobParams) -> None:
        raise NotImplementedError(f"plugin '{self.name}' does not generate")

    def evaluate(self, ctx: JobContext, params: JobParams) -> None:
        raise NotImplementedError(f"plugin '{self.name}' does not evaluate")

    @classmethod
    def params_model(cls, kind: JobKind | str) -> type[JobParams]:
        return {
            JobKind.train: cls.TrainParams,
            JobKind.generate: cls.GenerateParams,
            JobKind.evaluate: cls.EvaluateParams,
        }[JobKind(kind)]
