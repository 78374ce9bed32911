"""The GAN plugin: a (class-conditional) DCGAN for 28x28 MNIST digits.

Imports no torch: each job's module (which does) is imported when the job runs.
"""

from __future__ import annotations

from collections.abc import Callable

from aigc.core.plugin_api import JobKind, JobParams, LoadedModel, Modality, Plugin, job
from aigc.plugins.gan.params import EvaluateParams, GenerateParams, TrainParams


class GanPlugin(Plugin):
    name = "gan"
    modality = Modality.image
    description = "DCGAN for 28x28 digits: train on MNIST, generate PNGs, score with FID and a digit classifier"
    bundled_model = "default.safetensors"

    TrainParams = TrainParams
    GenerateParams = GenerateParams
    EvaluateParams = EvaluateParams

    train = job("aigc.plugins.gan.training:train")
    generate = job("aigc.plugins.gan.generation:generate")
    evaluate = job("aigc.plugins.gan.evaluation:evaluate")

    def check(self, kind: JobKind, params: JobParams, load_model: Callable[[], LoadedModel]) -> None:
        from aigc.plugins.gan.checks import check

        check(kind, params)
