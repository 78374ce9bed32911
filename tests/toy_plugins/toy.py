"""Plugins the core's tests run: cheap (numpy only), with knobs to fail, crash, dawdle and resume."""

from __future__ import annotations

import os
import time
import warnings

import numpy as np
from pydantic import Field

from aigc.core.errors import UsageError
from aigc.core.images import encode_png
from aigc.core.plugin import JobParams, Modality, ModelParams, Plugin


class ToyGenerate(JobParams):
    n: int = Field(4, ge=1, le=10_000, description="how many images")
    size: int = Field(8, ge=2, le=64, description="image side in pixels")
    fail: bool = Field(False, description="raise after the first image")
    sleep: float = Field(0.0, ge=0, le=60, description="seconds to wait after each image")
    chatty: bool = Field(False, description="log a line per image through ctx.logger, and raise a warning")


class ToyTrain(JobParams):
    epochs: int = Field(3, ge=1, le=1000, description="epochs")
    sleep: float = Field(0.0, ge=0, le=60, description="seconds per epoch")
    crash_at: int = Field(-1, ge=-1, description="on the first attempt, kill the process in this epoch")


class Toy(Plugin):
    name = "toy"
    modality = Modality.image
    description = "noise images, for tests"
    queue = "cpu"
    GenerateParams = ToyGenerate
    TrainParams = ToyTrain
    EvaluateParams = ModelParams

    def generate(self, ctx, params: ToyGenerate) -> None:
        rng = np.random.default_rng(ctx.seed)
        for i in range(params.n):
            pixels = rng.integers(0, 256, (params.size, params.size), dtype=np.uint8)
            ctx.add_image(encode_png(pixels, {"index": i, "seed": ctx.seed}), seed=ctx.seed, metadata={"index": i})
            if params.chatty:
                ctx.logger.info("image %d of %d", i + 1, params.n)
                warnings.warn(f"toy warning {i}", UserWarning, stacklevel=1)
            if params.fail:
                raise RuntimeError("toy failure on purpose")
            ctx.progress(i + 1, params.n)
            time.sleep(params.sleep)

    def train(self, ctx, params: ToyTrain) -> None:
        import torch

        state = ctx.load_checkpoint()
        weight = state["weight"] if state else torch.zeros(4)
        start = state["epoch"] if state else 0
        for epoch in range(start, params.epochs):
            if epoch == params.crash_at and ctx.attempt == 1:
                os._exit(17)  # a dying worker: no cleanup, no outcome written
            weight = weight + 1
            ctx.log_metric("loss", 1.0 / (epoch + 1), epoch)
            ctx.add_image(encode_png(np.full((4, 4), epoch, np.uint8)), role="sample", metadata={"epoch": epoch})
            ctx.progress(epoch + 1, params.epochs, loss=1.0 / (epoch + 1))
            time.sleep(params.sleep)
            ctx.save_checkpoint({"weight": weight, "epoch": epoch + 1})
        ctx.save_model(
            {"weight": weight}, name="toy", config={"epochs": params.epochs}, metrics={"loss": 1.0 / params.epochs}
        )

    def evaluate(self, ctx, params: ModelParams) -> None:
        from aigc.core.artifacts import load_tensors

        model = ctx.load_model(params.model)
        tensors, _ = load_tensors(model.path)
        if "weight" not in tensors:
            raise UsageError("not a toy model")
        ctx.set_summary(weight_sum=float(tensors["weight"].sum()), model=model.id)


class Chatter(Plugin):
    name = "chatter"
    modality = Modality.text
    description = "echoes text, for tests"
    queue = "cpu"

    class GenerateParams(JobParams):
        prompt: str = Field(..., min_length=1, description="text to echo")
        n: int = Field(2, ge=1, le=100, description="how many echoes")

    def generate(self, ctx, params) -> None:
        for i in range(params.n):
            text = f"{params.prompt} #{i}"
            ctx.stream(text + "\n")
            ctx.add_text(text, seed=ctx.seed)
