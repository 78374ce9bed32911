"""The GAN plugin's job params: pydantic models with a limit and a line of help on every field.

No torch here: `aigc plugins show gan` prints these without loading any model code.
"""

from __future__ import annotations

from aigc.core.plugin_api import PRECISION_HELP, DataPath, Field, JobParams, ModelParams, Precision

DATA_HELP = "MNIST folder or images IDX file (.gz or raw); default: the cache, downloaded when missing"


class TrainParams(JobParams):
    epochs: int = Field(20, ge=1, le=1000, description="passes over the training digits")
    batch_size: int = Field(64, ge=2, le=4096, description="digits per step (batch norm needs at least 2)")
    lr_g: float = Field(4e-4, gt=0, le=0.1, description="generator Adam learning rate (betas 0.5, 0.999)")
    lr_d: float = Field(2e-4, gt=0, le=0.1, description="discriminator Adam learning rate (betas 0.5, 0.999)")
    latent_size: int = Field(16, ge=2, le=1024, description="size of the generator's Gaussian latent")
    label_smoothing: float = Field(
        0.0, ge=0, lt=0.5, description="one-sided label smoothing: real digits get target 1 - this"
    )
    conditional: bool = Field(True, description="condition both nets on the digit class (needs labels)")
    ema: float = Field(
        0.995, ge=0, lt=1, description="decay of the generator weight average that is saved; 0 saves the raw weights"
    )
    calibrate: bool = Field(
        True, description="set the model's sampling temperature (0.8..1.4) by FID against its own training digits"
    )
    g_channels: int = Field(32, ge=4, le=512, description="generator width at 14x14 (twice that at 7x7)")
    refine: bool = Field(True, description="end the generator in a 3x3 conv at 28x28 (false: the first network)")
    d_channels: int = Field(32, ge=4, le=512, description="discriminator width at 14x14 (twice that at 7x7)")
    data: DataPath | None = Field(None, description=DATA_HELP)
    holdout: int = Field(
        2000, ge=0, description="the last N digits of data are not trained on (the reference set of evaluate)"
    )
    precision: Precision = Field("auto", description=PRECISION_HELP)


class GenerateParams(ModelParams):
    n: int = Field(64, ge=1, le=1_000_000, description="number of digits to generate (stored as they are made)")
    digit: int | None = Field(None, ge=0, le=9, description="draw only this digit (class-conditional models)")
    temperature: float | None = Field(
        None, gt=0, le=2, description="latent scale (lower: cleaner, less varied); default: the model's calibrated one"
    )
    truncation: float | None = Field(
        None, gt=0, le=4, description="redraw latent components beyond +-this (truncation trick); default none"
    )
    precision: Precision = Field("auto", description=PRECISION_HELP)


class EvaluateParams(ModelParams):
    deprecated_names = {"reference": "holdout"}

    data: DataPath | None = Field(None, description="real digits: " + DATA_HELP)
    samples: int = Field(2000, ge=10, le=50_000, description="generated digits scored, and real digits beside them")
    holdout: int = Field(
        2000, ge=10, le=50_000, description="the last N digits of data (held out by train) are the reference set"
    )
    temperature: float | None = Field(
        None, gt=0, le=2, description="latent scale of the generated digits; default: the model's calibrated one"
    )
