"""The diffusion plugin: a class-conditional DDPM for 28x28 digits on Hugging Face `diffusers`.

Trains a `UNet2DModel` with the noise-prediction objective, samples it with DPM-Solver++ and
classifier-free guidance, and saves `DDPMPipeline` folders that plain diffusers loads. Imports no torch
or diffusers: each job's module (which does) is imported when the job runs.
"""

from __future__ import annotations

from collections.abc import Callable

from aigc.core.plugin_api import JobKind, JobParams, LoadedModel, Modality, Plugin, job
from aigc.plugins.diffusion.params import EvaluateParams, GenerateParams, TrainParams


class DiffusionPlugin(Plugin):
    name = "diffusion"
    modality = Modality.image
    description = "Class-conditional diffusion UNet for 28x28 digits on diffusers: train, sample with guidance, score"
    queue = "gpu"
    bundled_model = "default"

    TrainParams = TrainParams
    GenerateParams = GenerateParams
    EvaluateParams = EvaluateParams

    train = job("aigc.plugins.diffusion.training:train")
    generate = job("aigc.plugins.diffusion.generation:generate")
    evaluate = job("aigc.plugins.diffusion.evaluation:evaluate")

    def check(self, kind: JobKind, params: JobParams, load_model: Callable[[], LoadedModel]) -> None:
        from aigc.plugins.diffusion.checks import check

        check(kind, params)
