"""The plugin contract: what a generator plugin declares and the three jobs it answers.

A plugin author imports everything from `aigc.core.plugin_api` (this contract, the `JobContext`, the
errors and helpers). Importing a plugin class must stay cheap: name each job's function with `job()`
(imported when the job runs), or import torch/transformers inside the job methods, so that
`aigc plugins` lists every plugin without loading them.
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from pydantic import GetJsonSchemaHandler
    from pydantic.json_schema import JsonSchemaValue
    from pydantic_core import CoreSchema

    from aigc.core.context import JobContext, LoadedModel

# Bumped only when the contract changes incompatibly; a plugin written for another
# version is listed as broken instead of being half-loaded.
CONTRACT_VERSION = 1

# Seeds are 32-bit: the range of the `seed` param, so every item's seed can be given back as one.
SEED_LIMIT = 2**32

log = logging.getLogger("aigc.params")


class JobKind(StrEnum):
    train = "train"
    generate = "generate"
    evaluate = "evaluate"


class Modality(StrEnum):
    image = "image"
    text = "text"


def item_seed(seed: int, index: int) -> int:
    """The seed of item `index` of a job with `seed`: item i of seed s is item 0 of seed s + i.

    It is what `ctx.add_image/add_text(seed=...)` records, so one item can be made again alone.
    """
    return (seed + index) % SEED_LIMIT


# The precision a job computes in (core/precision.py): `precision: Precision = Field("auto", description=...)`.
Precision = Literal["auto", "fp32", "bf16", "fp16"]
PRECISION_HELP = (
    "auto (bf16 on CUDA that has it, else fp32), fp32, bf16 (autocast; also on CPU) or fp16 (CUDA, loss scaling)"
)

# The longest file name a path param takes (Linux's PATH_MAX).
PATH_CHARS = 4096


@dataclass(frozen=True)
class PathParam:
    """Marks a str param that names a file, folder or glob on the machine that runs the job.

    `AIGC_DATA_ROOTS` confines such params, and `aigc serve` takes none without it (docs/serve.md).
    With `hub_names`, a value that names no local path and reads as a Hugging Face hub id
    (`gpt2`, `org/name`) is a model name, not a path.
    """

    hub_names: bool = False

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        value = handler(schema)
        value["format"] = "path"
        return value


# A param naming a local file, folder or glob: `data: DataPath | None = Field(None, description=...)`.
DataPath = Annotated[str, PathParam(), Field(max_length=PATH_CHARS)]
# A local model folder, or a Hugging Face hub name.
DataPathOrHubName = Annotated[str, PathParam(hub_names=True), Field(max_length=PATH_CHARS)]
# The longest model id: a number from `aigc models`, or "default".
MODEL_ID_CHARS = 100


class JobParams(BaseModel):
    """Base of every params model: unknown keys are errors, and every job has a seed and a device."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    # Old param names still accepted for one release, {"old": "new"}: each use logs one warning line.
    deprecated_names: ClassVar[Mapping[str, str]] = {}

    seed: int | None = Field(
        default=None, ge=0, le=SEED_LIMIT - 1, description="random seed; drawn and recorded when omitted"
    )
    device: str = Field(
        default="auto",
        max_length=16,
        pattern=r"^(auto|cpu|cuda(:[0-9]+)?|mps)$",
        description="auto (CUDA when present, else CPU), cpu, cuda, cuda:N or mps",
    )

    @model_validator(mode="before")
    @classmethod
    def _accept_deprecated_names(cls, data: Any) -> Any:
        if not cls.deprecated_names or not isinstance(data, Mapping):
            return data
        data = dict(data)
        for old, new in cls.deprecated_names.items():
            if old not in data:
                continue
            if new in data:
                raise ValueError(f"give {new} only: {old} is its old name")
            data[new] = data.pop(old)
            log.warning("warning: param '%s' is renamed '%s'; the old name stops working in the next release", old, new)
        return data


class ModelParams(JobParams):
    """Params of a job that reads a model: `--model ID` on the command line sets `model`."""

    model: str | None = Field(
        default=None,
        max_length=MODEL_ID_CHARS,
        description="model id; default: the newest trained model of the plugin, else the bundled one",
    )

    def reads_model(self) -> bool:
        """Whether the job reads `model` (pinned at submit). A plugin whose params can name weights another
        way, such as a local folder, returns False then, and the job runs without a model of the store."""
        return True


class Plugin:
    """Subclass this, set the class attributes and give the three jobs.

    A job is `job("package.module:function")` (imported when the job runs) or a method
    `def train(self, ctx, params)`. It receives a `JobContext` and a validated instance of its params
    model, reports through the context (progress, metrics, results, checkpoints, models) and never prints.
    """

    name: ClassVar[str]
    modality: ClassVar[Modality]
    description: ClassVar[str] = ""
    contract: ClassVar[int] = CONTRACT_VERSION
    # "gpu" when the plugin is only worth running on a GPU node; "cpu" when it never uses one.
    queue: ClassVar[Literal["gpu", "cpu"]] = "gpu"
    # A file (or folder) inside the plugin's package holding its bundled default model.
    bundled_model: ClassVar[str | None] = None
    # Seconds an attempt may run when the job sets no --timeout (docs/operations.md); None: no limit.
    timeout: ClassVar[float | None] = None

    TrainParams: ClassVar[type[JobParams]] = JobParams
    GenerateParams: ClassVar[type[JobParams]] = ModelParams
    EvaluateParams: ClassVar[type[JobParams]] = ModelParams

    def train(self, ctx: JobContext, params: JobParams) -> None:
        raise NotImplementedError(f"plugin '{self.name}' does not train")

    def generate(self, ctx: JobContext, params: JobParams) -> None:
        raise NotImplementedError(f"plugin '{self.name}' does not generate")

    def evaluate(self, ctx: JobContext, params: JobParams) -> None:
        raise NotImplementedError(f"plugin '{self.name}' does not evaluate")

    def check(self, kind: JobKind, params: JobParams, load_model: Callable[[], LoadedModel]) -> None:
        """Optional: refuse what the params model cannot judge and the machine running the job can.

        Files that are missing, a held-out part larger than the data, a prompt longer than the model
        reads: raise UsageError with one line naming the param. Called before a job that will run in
        this process is stored (so `aigc submit` refuses it, exit 2, nothing stored), and again before
        each attempt of every job, on the machine that runs it. `load_model()` gives the job's model,
        as `ctx.load_model(params.model)` does; call it only if a check needs it. Keep it quick.
        """

    @classmethod
    def params_model(cls, kind: JobKind | str) -> type[JobParams]:
        return {
            JobKind.train: cls.TrainParams,
            JobKind.generate: cls.GenerateParams,
            JobKind.evaluate: cls.EvaluateParams,
        }[JobKind(kind)]


class JobFunction:
    """A plugin's job given as "package.module:function", imported only when the job runs.

    Made by `job()`; as a method of the plugin it checks that the params are an instance of the job's
    params model, then calls `function(ctx, params)`.
    """

    def __init__(self, target: str) -> None:
        module, _, function = target.partition(":")
        if not module or not function.isidentifier():
            raise ValueError(f"job {target!r} is not of the form 'package.module:function'")
        self.target, self.module, self.function = target, module, function
        self.kind: JobKind | None = None

    def __set_name__(self, owner: type, name: str) -> None:
        if name not in set(JobKind):
            raise TypeError(f"{owner.__name__}.{name} = job(...): a job is named train, generate or evaluate")
        self.kind = JobKind(name)

    def __get__(self, plugin: Plugin | None, owner: type | None = None) -> Any:
        if plugin is None:
            return self
        return functools.partial(self.run, plugin)

    def run(self, plugin: Plugin, ctx: JobContext, params: JobParams) -> None:
        assert self.kind is not None, "job() is assigned to a plugin class attribute"
        expected = plugin.params_model(self.kind)
        if not isinstance(params, expected):
            raise TypeError(f"{plugin.name} {self.kind} takes {expected.__name__}, not {type(params).__name__}")
        function: Callable[[JobContext, JobParams], None] = getattr(importlib.import_module(self.module), self.function)
        function(ctx, params)

    def __repr__(self) -> str:
        return f"job({self.target!r})"


def job(target: str) -> Any:
    """A job of the plugin class, imported when it runs: `train = job("my_plugin.training:train")`.

    The function is called as `function(ctx, params)`; its module may import torch, the plugin's
    module need not. (Typed `Any` so that it can stand where `Plugin` declares a method.)
    """
    return JobFunction(target)
