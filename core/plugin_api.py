"""The plugin API: everything a plugin may use from aigc, in one module.

    from aigc.core.plugin_api import JobContext, JobParams, Modality, ModelParams, Plugin, UsageError, job
    from aigc.core.plugin_api import DataPath  # a param that names a file: data: DataPath | None = Field(...)

What is not exported here may change without notice. Importing this module is cheap (no torch,
numpy or Pillow), so a plugin's `__init__` may import it: the image and testing helpers are
imported when first used.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from aigc.core.artifacts import load_tensors, verify_shipped
from aigc.core.config import data_home, environment
from aigc.core.context import JobContext, LoadedModel, Progress
from aigc.core.device_data import DEVICE_DATA_SHARE, place_data, to_device
from aigc.core.errors import InvalidParams, JobCancelled, UsageError, first_line
from aigc.core.plugin import (
    CONTRACT_VERSION,
    PRECISION_HELP,
    SEED_LIMIT,
    DataPath,
    DataPathOrHubName,
    JobKind,
    JobParams,
    Modality,
    ModelParams,
    PathParam,
    Plugin,
    Precision,
    item_seed,
    job,
)
from aigc.core.precision import MixedPrecision, mixed_precision, precision_for
from aigc.core.warm_models import warm_model

if TYPE_CHECKING:
    from aigc.core.images import contact_sheet, encode_grey_png, encode_png, read_png_text
    from aigc.core.testing import JobOutcome, outcome_of, run_job, submit, temporary_settings


def dataset_dir(name: str) -> Path:
    """The folder where a plugin keeps data set `name` (downloaded once, then read from there):
    `$AIGC_DATA_DIR/<name>`, AIGC_DATA_DIR defaulting to `<aigc data home>/data`. Not created here."""
    env = environment()
    return (env.data_dir.expanduser() if env.data_dir else data_home(env) / "data") / name


# Imported on first use: numpy and Pillow (images), the store and runner (testing).
_LAZY = {
    "encode_png": "aigc.core.images",
    "encode_grey_png": "aigc.core.images",
    "read_png_text": "aigc.core.images",
    "contact_sheet": "aigc.core.images",
    "run_job": "aigc.core.testing",
    "JobOutcome": "aigc.core.testing",
    "submit": "aigc.core.testing",
    "outcome_of": "aigc.core.testing",
    "temporary_settings": "aigc.core.testing",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    # the contract
    "CONTRACT_VERSION",
    "Field",
    "JobKind",
    "JobParams",
    "Modality",
    "ModelParams",
    "Plugin",
    "job",
    # params that name files (confined by AIGC_DATA_ROOTS)
    "DataPath",
    "DataPathOrHubName",
    "PathParam",
    # what a job is handed
    "JobContext",
    "LoadedModel",
    "Progress",
    # errors a job raises or lets through
    "InvalidParams",
    "JobCancelled",
    "UsageError",
    "first_line",
    # precision (autocast, fp16 loss scaling, TF32)
    "MixedPrecision",
    "PRECISION_HELP",
    "Precision",
    "mixed_precision",
    "precision_for",
    # seeds, data, models
    "DEVICE_DATA_SHARE",
    "place_data",
    "to_device",
    "SEED_LIMIT",
    "dataset_dir",
    "environment",
    "item_seed",
    "load_tensors",
    "verify_shipped",
    "warm_model",
    # images
    "contact_sheet",
    "encode_grey_png",
    "encode_png",
    "read_png_text",
    # testing a plugin
    "JobOutcome",
    "outcome_of",
    "run_job",
    "submit",
    "temporary_settings",
]
