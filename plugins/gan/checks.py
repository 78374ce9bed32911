"""What a GAN job needs of the machine that runs it: digits at `data`, more of them than `holdout`.

Run before each attempt (and before an embedded job is stored) through `GanPlugin.check`; numpy only.
"""

from __future__ import annotations

from aigc.core.plugin_api import JobKind, JobParams
from aigc.plugins.datasets.holdout import check_holdout
from aigc.plugins.datasets.mnist import digits_in_param
from aigc.plugins.gan.params import EvaluateParams, TrainParams


def check(kind: JobKind, params: JobParams) -> None:
    if not isinstance(params, (TrainParams, EvaluateParams)):  # generate reads no data
        return
    count = digits_in_param("data", params.data)
    if count is not None:  # None: the cache, downloaded when the job runs
        check_holdout(kind, params.holdout, count)
