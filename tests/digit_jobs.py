"""What the tests of the digit plugins (gan, diffusion) share: a small labelled MNIST folder, a check
refused the same way at submit and at run time, a PNG's pixels."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aigc.core.config import Settings
from aigc.core.errors import UsageError
from aigc.core.testing import run_job, submit
from aigc.plugins.datasets.mnist import load_mnist, write_idx


def digits_folder(source: Path, folder: Path, count: int) -> Path:
    """The first `count` labelled digits of the MNIST folder `source`, as an MNIST folder of their own."""
    data = load_mnist(source)
    assert data.labels is not None
    folder.mkdir()
    write_idx(folder / "train-images-idx3-ubyte.gz", data.images[:count])
    write_idx(folder / "train-labels-idx1-ubyte.gz", data.labels[:count])
    return folder


def refused_at_submit_then_failed_when_run(
    settings: Settings, plugin: str, kind: str, params: dict[str, object]
) -> str:
    """The plugin's check refuses the job at submit (embedded); stored anyway (queued), the job fails with
    the same line. Returns that line."""
    with pytest.raises(UsageError) as refused:
        submit(settings, plugin, kind, params)
    outcome = run_job(plugin, kind, params, settings=settings, check_here=False)
    assert outcome.job.status == "failed" and outcome.job.error == str(refused.value)
    return outcome.job.error


def pixels(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image)
