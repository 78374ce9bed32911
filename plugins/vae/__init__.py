"""The VAE plugin: a convolutional variational autoencoder for 28x28 MNIST digits.

Imports no torch: the job methods import their modules (which do) when a job runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from aigc.core.plugin import JobParams, Modality, Plugin
from aigc.plugins.vae.params import EvaluateParams, GenerateParams, TrainParams

if TYPE_CHECKING:
    from aigc.core.context import JobContext


class VaePlugin(Plugin):
    name = "vae"
    modality = Modality.image
    description = "Variational autoencoder for 28x28 digits: sample, reconstruct, interpolate, score in nats"
    bundled_model = "default.safetensors"

    TrainParams: ClassVar[type[JobParams]] = TrainParams
    GenerateParams: ClassVar[type[JobParams]] = GenerateParams
    EvaluateParams: ClassVar[type[JobParams]] = EvaluateParams

    def train(self, ctx: JobContext, params: JobParams) -> None:
        from aigc.plugins.vae.training import train

        assert isinstance(params, TrainParams)
        train(ctx, params)

    def generate(self, ctx: JobContext, params: JobParams) -> None:
        from aigc.plugins.vae.generation import generate

        assert isinstance(params, GenerateParams)
        generate(ctx, params)

    def evaluate(self, ctx: JobContext, params: JobParams) -> None:
        from aigc.plugins.vae.scoring import evaluate

        assert isinstance(params, EvaluateParams)
        evaluate(ctx, params)
