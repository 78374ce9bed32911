"""Settings: what the store, the runner and the queue need, from the AIGC_* variables.

Every AIGC_* variable is parsed and checked once, by the pydantic model in
`aigc.core.environment` (a bad value is one line naming the variable and what it accepts). That
module is imported on the first read, not with this one: `aigc --help` never pays for pydantic.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aigc.core.environment import Environment


def environment() -> Environment:
    """The AIGC_* variables, parsed and checked; InvalidSetting (exit code 2) names a bad one."""
    # Parsed again only when a variable changed: a worker reads its settings once per job.
    return _parse(tuple((name, os.environ[name]) for name in os.environ if name[:5].upper() == "AIGC_"))


@functools.lru_cache(maxsize=8)
def _parse(variables: tuple[tuple[str, str], ...]) -> Environment:
    from aigc.core.environment import read

    return read()


def data_home(env: Environment | None = None) -> Path:
    """AIGC_HOME, else the user data dir: the embedded store, artifacts and data sets live under it."""
    home = (env or environment()).home
    if home is not None:
        return home
    from platformdirs import user_data_dir

    return Path(user_data_dir("aigc"))


@dataclass(frozen=True)
class Settings:
    database_url: str
    artifacts: Path
    broker_url: str | None
    plugin_path: tuple[Path, ...]
    lease_seconds: float
    max_attempts: int
    # Every job's end is POSTed here (core/webhooks.py), besides a job's own --notify URL.
    webhook_url: str | None = None

    @classmethod
    def from_env(cls) -> Settings:
        env = environment()
        home = data_home(env)
        return cls(
            database_url=env.database_url or f"sqlite:///{home / 'aigc.db'}",
            artifacts=env.artifacts or home / "artifacts",
            broker_url=env.broker_url,
            plugin_path=tuple(Path(p) for p in env.plugin_path.split(os.pathsep) if p),
            # A running attempt renews its lease every third of this; a lapsed lease means the worker died.
            lease_seconds=env.lease_seconds,
            max_attempts=env.max_attempts,
            webhook_url=env.webhook_url,
        )

    @property
    def heartbeat_s(self) -> float:
        """How often a worker beats and reaps: a third of a lease, so a dead worker's jobs wait one lease."""
        return max(0.5, self.lease_seconds / 3)
