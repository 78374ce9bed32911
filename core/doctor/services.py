"""Checks of the services aigc may talk to: the broker and its workers, and an `aigc serve` server."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from aigc.core.config import Settings
from aigc.core.doctor.checks import Check, plural
from aigc.core.errors import AigcError, BrokerUnavailable

if TYPE_CHECKING:
    from aigc.core.cluster import ClusterStatus

SERVER_TIMEOUT_S = 5
START_BROKER = "start Redis, or correct AIGC_BROKER_URL"


def broker(settings: Settings, store_ready: bool) -> list[Check]:
    """The broker's reachability; with the store at hand, which queues have jobs waiting and no worker."""
    from aigc.core.dispatch import dispatcher_for, uses_broker

    if not uses_broker(settings):
        return [Check("broker", "ok", "none: jobs run in the process that submits them (AIGC_BROKER_URL queues them)")]
    from aigc.core.cluster import cluster_status
    from aigc.core.environment import masked
    from aigc.core.store import Store

    assert settings.broker_url is not None
    reachable = Check("broker", "ok", f"{masked(settings.broker_url)}: reachable")
    try:
        dispatcher = dispatcher_for(settings, "aigc doctor")
    except AigcError as exc:
        return [Check("broker", "fail", str(exc), "reinstall aigc (its worker package registers the dispatcher)")]
    if not store_ready:  # the broker alone: live workers and waiting jobs are known from the store
        try:
            dispatcher.queue_depths(dispatcher.queues)
        except BrokerUnavailable as exc:
            return [Check("broker", "fail", str(exc), START_BROKER)]
        return [reachable]
    status = cluster_status(Store(settings))
    if status.broker_error is not None:
        return [Check("broker", "fail", status.broker_error, START_BROKER)]
    return [reachable, *_workers(status)]


def _workers(status: ClusterStatus) -> list[Check]:
    from aigc.core.cluster import start_worker_hint, unserved

    if not status.workers:
        waiting = sum(q.queued for q in status.queues)
        fix = "start one on each node: aigc worker (GPUs), aigc worker --gpus none (CPU only)"
        return [Check("workers", "warn", f"none live; {plural(waiting, 'queued job')} wait for one", fix)]
    served = sorted({q for w in status.workers for q in w.queues})
    listed = "; ".join(f"{w.name} on {w.device}" for w in status.workers)
    checks = [Check("workers", "ok", f"{len(status.workers)} live ({listed}), serving {', '.join(served)}")]
    for queue in unserved(status):
        jobs = f"{plural(queue.queued, 'job')} waiting"
        checks.append(
            Check(f"queue {queue.queue}", "warn", f"{jobs}, no live worker serves it", start_worker_hint(queue.queue))
        )
    return checks


def server() -> list[Check]:
    """`GET {AIGC_SERVER_URL}/api/jobs?limit=1`, with AIGC_TOKEN (else AIGC_API_TOKEN) when set: the server and its store answer."""
    from urllib.error import HTTPError, URLError
    from urllib.request import Request, urlopen

    from aigc.core.config import environment

    env = environment()
    if env.server_url is None:
        return []
    from aigc.core.environment import masked

    where = masked(env.server_url)
    request = Request(f"{env.server_url}/api/jobs?limit=1", headers={"Accept": "application/json"})
    token = env.token or env.api_token
    if token is not None:
        request.add_header("Authorization", f"Bearer {token.get_secret_value()}")
    try:
        with urlopen(request, timeout=SERVER_TIMEOUT_S) as response:
            json.load(response)
    except HTTPError as exc:
        reason = exc.read(300).decode(errors="replace").strip().splitlines()[:1]
        found = f"{where}: HTTP {exc.code}{': ' + reason[0] if reason else ''}"
        if exc.code == 401:
            return [Check("server", "fail", found, "set AIGC_TOKEN to a token of the server's (`aigc tokens create`)")]
        if exc.code == 404:
            return [Check("server", "fail", found, "AIGC_SERVER_URL is not an aigc server (no /api/jobs)")]
        return [Check("server", "fail", found, "see the server's log (AIGC_SERVE_LOG=info)")]
    except (URLError, OSError, ValueError) as exc:
        cause = exc.reason if isinstance(exc, URLError) else exc
        return [
            Check(
                "server", "fail", f"{where}: unreachable: {cause}", "start it (aigc serve) or correct AIGC_SERVER_URL"
            )
        ]
    return [Check("server", "ok", f"{where}: answers (GET /api/jobs)")]
