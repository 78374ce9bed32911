"""The GAN plugin: a (class-conditional) DCGAN for 28x28 MNIST digits.

Imports no torch: the job methods import their modules (which do) when a job runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from aigc.core.plugin import JobParams, Modality, Plugin
from aigc.plugins.gan.params import EvaluateParams, GenerateParams, TrainParams

if TYPE_CHECKING:
    from aigc.core.context import JobContext


class GanPlugin(Plugin):
    name = "gan"
    modality = Modality.image
    description = "DCGAN for 28x28 digits: train on MNIST, generate PNGs, score with FID and a digit classifier"
    bundled_model = "default.safetensors"

    TrainParams: ClassVar[type[JobParams]] = TrainParams
    GenerateParams: ClassVar[type[JobParams]] = GenerateParams
    EvaluateParams: ClassVar[type[JobParams]] = EvaluateParams

    def train(self, ctx: JobContext, params: JobParams) -> None:
        from aigc.plugins.gan.training import train

        assert isinstance(params, TrainParams)
        train(ctx, params)

    def generate(self, ctx: JobContext, params: JobParams) -> None:
        from aigc.plugins.gan.generation import generate

        assert isinstance(params, GenerateParams)
        generate(ctx, params)

    def evaluate(self, ctx: JobContext, params: JobParams) -> None:
        from aigc.plugins.gan.evaluation import evaluate

        assert isinstance(params, EvaluateParams)
        evaluate(ctx, params)
