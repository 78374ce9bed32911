"""The job store: SQLAlchemy models, migrations, and the lifecycle of a job.

The names below are imported on first use (PEP 562), so that `aigc.core.store.recent` can answer a
shell completion without importing SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aigc.core.store.database import Store
    from aigc.core.store.models import MAX_ID, Job, JobStatus, Metric, Model, Result

__all__ = ["MAX_ID", "Job", "JobStatus", "Metric", "Model", "Result", "Store"]

_MODULE_OF = {"Store": "database", **{name: "models" for name in __all__ if name != "Store"}}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
