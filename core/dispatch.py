"""The queued path, behind one interface: the dispatcher that the worker package registers.

The core never imports the worker package. `aigc.worker` registers its Celery dispatcher in the
`aigc.dispatchers` entry-point group (pyproject), and the core loads it on first use, only when a
broker is configured (AIGC_BROKER_URL); without one every job runs in the process that starts it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

from aigc.core.errors import UsageError, first_line

if TYPE_CHECKING:
    from aigc.core.config import Settings
    from aigc.core.store import Job, Store

GROUP = "aigc.dispatchers"


class Dispatcher(Protocol):
    """Sends jobs to a broker's queues; the registered factory builds one from the settings."""

    queues: tuple[str, ...]  # the queues workers may serve, in order of preference

    def send(self, store: Store, jobs: Sequence[Job], *, countdown: float | None = None) -> None:
        """Send each job to its queue (`job.queue`), then record when it went out.

        Sending a job twice is harmless: the store's claim lets one delivery run it. A broker that
        cannot be reached raises BrokerUnavailable and leaves the jobs queued in the store, unsent.
        """

    def queue_depths(self, queues: Iterable[str]) -> dict[str, int]:
        """Messages waiting in the broker per queue; BrokerUnavailable if it cannot be reached."""


def uses_broker(settings: Settings) -> bool:
    """Whether jobs go to a broker's queues rather than run in the process that starts them."""
    return settings.broker_url is not None


def dispatcher_for(settings: Settings, needed_by: str = "queuing a job") -> Dispatcher:
    """The registered dispatcher for `settings`' broker; UsageError naming `needed_by` without a broker."""
    if not uses_broker(settings):
        raise UsageError(f"{needed_by} needs a broker: set AIGC_BROKER_URL, e.g. redis://127.0.0.1:6379/0")
    return _registered()(settings)


@functools.cache
def _registered() -> Callable[[Settings], Dispatcher]:
    from importlib.metadata import entry_points

    found = list(entry_points(group=GROUP))
    if not found:
        raise UsageError(
            f"a broker is set (AIGC_BROKER_URL) but no dispatcher is installed (entry-point group {GROUP})"
        )
    if len(found) > 1:
        names = ", ".join(sorted(f"{ep.name} ({ep.value})" for ep in found))
        raise UsageError(f"several dispatchers are installed ({names}); uninstall all but one")
    try:
        factory: Callable[[Settings], Dispatcher] = found[0].load()
        return factory
    except Exception as exc:  # a broken install must be one line, like a broken plugin
        raise UsageError(f"the dispatcher {found[0].value} cannot be loaded: {first_line(exc)}") from exc
