"""The diffusion plugin's job params: pydantic models with a limit and a line of help on every field.

No torch here: `aigc plugins show diffusion` prints these without loading diffusers.
"""

from __future__ import annotations

from pydantic import model_validator

from aigc.core.plugin_api import DataPath, Field, JobParams, ModelParams

DATA_HELP = "MNIST folder or images IDX file (.gz or raw) with its labels; default: the cache, downloaded when missing"
STEPS_HELP = "denoising steps of the DPM-Solver++ sampler (more: slower, slightly cleaner)"
DEFAULT_GUIDANCE = 1.5  # chosen on the bundled default's held-out scores (docs/diffusion.md)
GUIDANCE_HELP = (
    "classifier-free guidance: 1 the conditional model alone (one pass), >1 stronger class (two passes); "
    f"default {DEFAULT_GUIDANCE:g} for a model with a null class, as ours have, else 1"
)


class TrainParams(JobParams):
    epochs: int = Field(80, ge=1, le=1000, description="passes over the training digits")
    batch_size: int = Field(64, ge=1, le=4096, description="digits per step")
    lr: float = Field(2e-3, gt=0, le=0.1, description="AdamW peak learning rate (warmed up, then cosine to a tenth)")
    channels: int = Field(
        16, ge=4, le=256, multiple_of=4, description="UNet width at 28x28 (twice that at 14x14, four at 7x7)"
    )
    ema: float = Field(
        0.999, ge=0, lt=1, description="decay of the weight average that is saved; 0 saves the raw weights"
    )
    label_dropout: float = Field(
        0.1, ge=0, lt=1, description="share of digits trained with the null class, which guidance needs"
    )
    train_timesteps: int = Field(1000, ge=10, le=4000, description="noise levels of the DDPM forward process")
    data: DataPath | None = Field(None, description=DATA_HELP)
    holdout: int = Field(
        2000, ge=0, description="the last N digits of data are not trained on (the reference set of evaluate)"
    )


class GenerateParams(ModelParams):
    n: int = Field(64, ge=1, le=10_000, description="number of digits to generate")
    digit: int | None = Field(None, ge=0, le=9, description="draw only this digit; default: each drawn from its seed")
    steps: int = Field(10, ge=1, le=1000, description=STEPS_HELP)
    guidance: float | None = Field(None, ge=0, le=20, description=GUIDANCE_HELP)
    pipeline: DataPath | None = Field(
        None,
        description="local diffusers pipeline or UNet folder (28x28, 1 channel) sampled instead of model",
    )

    @model_validator(mode="after")
    def _one_source(self) -> GenerateParams:
        if self.pipeline is not None and self.model is not None:
            raise ValueError("give model or pipeline, not both")
        return self

    def reads_model(self) -> bool:
        return self.pipeline is None


class EvaluateParams(ModelParams):
    data: DataPath | None = Field(None, description="real digits: " + DATA_HELP)
    samples: int = Field(2000, ge=10, le=50_000, description="generated digits scored, and real digits beside them")
    holdout: int = Field(
        2000, ge=10, le=50_000, description="the last N digits of data (held out by train) are the reference set"
    )
    steps: int = Field(10, ge=1, le=1000, description=STEPS_HELP)
    guidance: float | None = Field(None, ge=0, le=20, description=GUIDANCE_HELP)
