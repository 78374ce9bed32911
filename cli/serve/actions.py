"""What a request may change: submit, cancel, re-run. The pages and the API both call these.

Each takes the request's `Caller`: its name goes on the jobs it submits, its limits are checked before
anything is stored, and a token that is not an admin's may cancel or re-run only its own jobs.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from starlette.requests import Request

from aigc.core.jobs import Cancellation, Submission, create_job
from aigc.core.jobs import cancel as cancel_job
from aigc.core.plugin import JobKind
from aigc.core.store import Job, queries
from aigc.core.tokens import NOBODY, Caller, check_submission

if TYPE_CHECKING:
    from aigc.cli.serve.app import Server


def caller_of(request: Request) -> Caller:
    """Who the request speaks for, as the guard found it (nobody in particular on a token-less server)."""
    return getattr(request.state, "caller", NOBODY)


def submit(server: Server, submission: Submission, caller: Caller = NOBODY) -> Job:
    """Validate and store the job (the CLI's create_job), then start it: broker, or a thread here.

    Every job a client sends is `remote`: its path params must lie in AIGC_DATA_ROOTS (core.data_roots).
    """
    check_submission(server.store, caller, submission.params)
    job = create_job(server.store, replace(submission, remote=True, token_name=caller.name))
    server.launcher.start(job)
    return job


def cancel(server: Server, job_id: int, caller: Caller = NOBODY) -> Cancellation:
    with server.store.transaction() as session:
        owner = queries.get_job(session, job_id).token_name
    caller.check_owner(job_id, owner, "cancel")
    return cancel_job(server.store, job_id)


def rerun(server: Server, job_id: int, caller: Caller = NOBODY) -> Job:
    """The same plugin, kind and params, seed and model included: the same output again, or a retry."""
    with server.store.transaction() as session:
        old = queries.get_job(session, job_id)
    caller.check_owner(job_id, old.token_name, "re-run")
    return submit(
        server,
        Submission(JobKind(old.kind), old.plugin, dict(old.params), priority=old.priority, retries=old.retries),
        caller,
    )
