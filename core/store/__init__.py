"""The job store: SQLAlchemy models, migrations, and the lifecycle of a job."""

from aigc.core.store.database import Store
from aigc.core.store.models import MAX_ID, Job, JobStatus, Metric, Model, Result

__all__ = ["MAX_ID", "Job", "JobStatus", "Metric", "Model", "Result", "Store"]
