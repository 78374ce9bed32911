"""The VAE plugin: a convolutional variational autoencoder for 28x28 MNIST digits.

Imports no torch: each job's module (which does) is imported when the job runs.
"""

from __future__ import annotations

from collections.abc import Callable

from aigc.core.plugin_api import JobKind, JobParams, LoadedModel, Modality, Plugin, job
from aigc.plugins.vae.params import EvaluateParams, GenerateParams, TrainParams


class VaePlugin(Plugin):
    name = "vae"
    modality = Modality.image
    description = "Variational autoencoder for 28x28 digits: sample, reconstruct, interpolate, score in nats"
    bundled_model = "default.safetensors"

    TrainParams = TrainParams
    GenerateParams = GenerateParams
    EvaluateParams = EvaluateParams

    train = job("aigc.plugins.vae.training:train")
    generate = job("aigc.plugins.vae.generation:generate")
    evaluate = job("aigc.plugins.vae.evaluation:evaluate")

    def check(self, kind: JobKind, params: JobParams, load_model: Callable[[], LoadedModel]) -> None:
        from aigc.plugins.vae.checks import check

        check(kind, params)
