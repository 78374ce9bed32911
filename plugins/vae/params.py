"""Params of the VAE's three jobs: pydantic only, so the CLI lists them without importing torch."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from aigc.core.plugin_api import PRECISION_HELP, SEED_LIMIT, DataPath, Field, JobParams, ModelParams, Precision

DATA_HELP = (
    "MNIST images as an IDX file (.gz or raw) or a folder holding train-images-idx3-ubyte[.gz]; "
    "default: the shared MNIST data"
)


class TrainParams(JobParams):
    epochs: int = Field(default=60, ge=1, le=1000, description="passes over the training digits")
    batch_size: int = Field(default=32, ge=1, le=4096, description="digits per optimiser step")
    lr: float = Field(default=1e-3, gt=0, le=1, description="Adam learning rate at the start")
    schedule: Literal["cosine", "constant"] = Field(
        default="cosine", description="learning rate over the run: cosine decay to 0, or constant"
    )
    latent_size: int = Field(default=16, ge=1, le=256, description="dimensions of the latent code z")
    channels: int = Field(default=32, ge=4, le=256, description="width of the first conv layer (the second is 2x)")
    hidden: int = Field(default=352, ge=8, le=2048, description="width of the fully connected layer around z")
    blocks: int = Field(
        default=1, ge=0, le=8, description="residual conv blocks the decoder adds at 14x14 and at 28x28 (0: none)"
    )
    beta: float = Field(default=1.0, ge=0, le=100, description="weight of the KL term (1 = the plain ELBO)")
    warmup: float = Field(
        default=5, ge=0, le=1000, description="epochs over which the KL weight rises from 0 to beta (0: none)"
    )
    jitter: float = Field(
        default=0.5, ge=0, le=1, description="chance that a training digit is moved by up to 1 pixel each draw"
    )
    data: DataPath | None = Field(default=None, description=DATA_HELP)
    test: int = Field(
        default=1000, ge=0, description="the first N digits of the data are the test split: train never uses them"
    )
    holdout: int = Field(
        default=1000, ge=0, description="the last N digits are the validation split: scored, never trained on"
    )
    score_every: int = Field(
        default=5, ge=1, le=1000, description="epochs between scores of the held-out digits (and always the last)"
    )
    precision: Precision = Field(default="auto", description=PRECISION_HELP)


# Which generate params each mode reads; giving another is an error rather than silently ignored.
MODE_ARGS: dict[str, set[str]] = {
    "sample": {"n"},
    "reconstruct": {"n", "data", "start"},
    "interpolate": {"data", "a", "b", "seed_a", "seed_b", "steps"},
}


class GenerateParams(ModelParams):
    mode: Literal["sample", "reconstruct", "interpolate"] = Field(
        default="sample",
        description="sample: n digits from the prior; reconstruct: digits start..start+n-1 of data through "
        "the model; interpolate: steps between digits a and b of data, or between seeds seed_a and seed_b",
    )
    n: int = Field(
        default=16, ge=1, le=1_000_000, description="sample/reconstruct: how many digits (stored as they are made)"
    )
    data: DataPath | None = Field(default=None, description=f"reconstruct/interpolate: {DATA_HELP}")
    start: int = Field(default=0, ge=0, description="reconstruct: index of the first digit in data")
    a: int | None = Field(default=None, ge=0, description="interpolate: index in data of the first digit")
    b: int | None = Field(default=None, ge=0, description="interpolate: index in data of the last digit")
    seed_a: int | None = Field(
        default=None,
        ge=0,
        le=SEED_LIMIT - 1,
        description="interpolate: seed of the first prior sample (as in mode=sample)",
    )
    seed_b: int | None = Field(
        default=None,
        ge=0,
        le=SEED_LIMIT - 1,
        description="interpolate: seed of the last prior sample (as in mode=sample)",
    )
    steps: int = Field(default=10, ge=2, le=64, description="interpolate: images in the row, both ends included")
    precision: Precision = Field(default="auto", description=PRECISION_HELP)

    @model_validator(mode="after")
    def _args_fit_mode(self) -> GenerateParams:
        # Compared with the defaults, not model_fields_set: the stored job re-validates a full dump.
        fields = type(self).model_fields
        given = {name for name in set().union(*MODE_ARGS.values()) if getattr(self, name) != fields[name].default}
        if extra := sorted(given - MODE_ARGS[self.mode]):
            takes = ", ".join(sorted(MODE_ARGS[self.mode]))
            raise ValueError(f"{', '.join(extra)} not used by mode={self.mode}, which takes: {takes}")
        if self.mode == "interpolate":
            ends = {name for name in ("a", "b", "seed_a", "seed_b") if getattr(self, name) is not None}
            if ends not in ({"a", "b"}, {"seed_a", "seed_b"}):
                raise ValueError("mode=interpolate needs either a and b (digit indices in data) or seed_a and seed_b")
        return self


# Which size param each evaluate split reads; giving the other is an error rather than silently ignored.
SPLIT_ARGS: dict[str, set[str]] = {"test": {"test"}, "validation": {"holdout"}, "all": set()}


class EvaluateParams(ModelParams):
    data: DataPath | None = Field(default=None, description=DATA_HELP)
    split: Literal["test", "validation", "all"] = Field(
        default="test",
        description="test: the first `test` digits of data (train never uses them); validation: the last "
        "`holdout` (train scores them); all: every digit. A file of that many digits or fewer is scored whole",
    )
    test: int = Field(default=1000, ge=1, description="split=test: the first N digits, as train's test")
    holdout: int = Field(default=1000, ge=1, description="split=validation: the last N digits, as train's holdout")
    k: int = Field(default=100, ge=1, le=10000, description="importance samples per digit for the NLL estimate")

    @model_validator(mode="after")
    def _sizes_fit_split(self) -> EvaluateParams:
        fields = type(self).model_fields
        given = {name for name in ("test", "holdout") if getattr(self, name) != fields[name].default}
        if extra := sorted(given - SPLIT_ARGS[self.split]):
            raise ValueError(
                f"{', '.join(extra)} not used by split={self.split}; test goes with split=test, "
                "holdout with split=validation"
            )
        return self
