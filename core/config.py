"""Settings read from the environment, with the embedded defaults (a SQLite file in the user data dir)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def data_home() -> Path:
    from platformdirs import user_data_dir

    return Path(os.environ.get("AIGC_HOME") or user_data_dir("aigc"))


@dataclass(frozen=True)
class Settings:
    database_url: str
    artifacts: Path
    broker_url: str | None
    plugin_path: tuple[Path, ...]
    lease_seconds: float
    max_attempts: int

    @classmethod
    def from_env(cls) -> Settings:
        home = data_home()
        return cls(
            database_url=os.environ.get("AIGC_DATABASE_URL") or f"sqlite:///{home / 'aigc.db'}",
            artifacts=Path(os.environ.get("AIGC_ARTIFACTS") or home / "artifacts"),
            broker_url=os.environ.get("AIGC_BROKER_URL") or None,
            plugin_path=tuple(Path(p) for p in os.environ.get("AIGC_PLUGIN_PATH", "").split(os.pathsep) if p),
            # A running attempt renews its lease every third of this; a lapsed lease means the worker died.
            lease_seconds=float(os.environ.get("AIGC_LEASE_SECONDS", "30")),
            max_attempts=int(os.environ.get("AIGC_MAX_ATTEMPTS", "3")),
        )

    @property
    def heartbeat_s(self) -> float:
        """How often a worker beats and reaps: a third of a lease, so a dead worker's jobs wait one lease."""
        return max(0.5, self.lease_seconds / 3)
