"""What a diffusion job needs of the machine that runs it: digits at `data`, more of them than `holdout`,
and a `pipeline` folder that exists.

Run before each attempt (and before an embedded job is stored) through `DiffusionPlugin.check`; numpy only.
"""

from __future__ import annotations

from pathlib import Path

from aigc.core.plugin_api import JobKind, JobParams, UsageError
from aigc.plugins.datasets.holdout import check_holdout
from aigc.plugins.datasets.mnist import digits_in_param
from aigc.plugins.diffusion.params import EvaluateParams, GenerateParams, TrainParams


def check(kind: JobKind, params: JobParams) -> None:
    if isinstance(params, GenerateParams):
        if params.pipeline is not None and not Path(params.pipeline).expanduser().is_dir():
            raise UsageError(
                f"pipeline {params.pipeline}: no such folder; give a local diffusers pipeline or UNet folder"
            )
        return
    if not isinstance(params, (TrainParams, EvaluateParams)):
        return
    count = digits_in_param("data", params.data)
    if count is not None:  # None: the cache, downloaded when the job runs
        check_holdout(kind, params.holdout, count)
