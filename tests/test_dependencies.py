"""Jobs that wait for others: claimable only after every parent succeeded, cancelled (transitively) when
one does not, `from:ID` reading the model a parent made, and embedded runs resolving the graph in order."""

from __future__ import annotations

import pytest
from conftest import cli

from aigc.core.errors import UsageError
from aigc.core.jobs import Submission, cancel_job, create_job, start
from aigc.core.plugin import JobKind
from aigc.core.runner import run_job
from aigc.core.store import Store, queries
from aigc.core.store.lifecycle import LeaseOwner, claim_job


def _submit(settings, kind: str, params: dict, after: tuple[int, ...] = ()) -> int:
    return create_job(Store(settings), Submission(JobKind(kind), "toy", params, after=after)).id


def _job(settings, job_id: int):
    with Store(settings).transaction() as session:
        return queries.get_job(session, job_id)


def test_dependent_is_claimable_only_after_its_parents_succeeded(settings):
    first = _submit(settings, "generate", {"n": 1})
    second = _submit(settings, "generate", {"n": 1})
    child = _submit(settings, "generate", {"n": 2}, after=(first, second))
    store = Store(settings)
    assert claim_job(store, child, LeaseOwner.new(), 30) is None  # a message that arrives early is refused
    assert run_job(child, settings=settings) == "queued"
    assert run_job(first, settings=settings) == "succeeded"
    assert claim_job(store, child, LeaseOwner.new(), 30) is None  # one parent still queued
    assert run_job(second, settings=settings) == "succeeded"
    assert run_job(child, settings=settings) == "succeeded"
    assert _job(settings, child).started_at >= _job(settings, second).finished_at


def test_failed_parent_cancels_dependents_transitively_with_the_reason(settings):
    parent = _submit(settings, "generate", {"n": 2, "fail": True})
    child = _submit(settings, "generate", {"n": 1}, after=(parent,))
    grandchild = _submit(settings, "generate", {"n": 1}, after=(child,))
    other = _submit(settings, "generate", {"n": 1})
    assert run_job(parent, settings=settings) == "failed"
    assert (_job(settings, child).status, _job(settings, child).error) == (
        "cancelled",
        f"cancelled: job {parent}, which it waits for, failed",
    )
    assert _job(settings, grandchild).error == f"cancelled: job {child}, which it waits for, was cancelled"
    assert _job(settings, other).status == "queued"  # not in the chain
    assert run_job(grandchild, settings=settings) == "cancelled"  # a late message runs nothing


def test_cancelled_parent_cancels_its_dependents(settings):
    parent = _submit(settings, "generate", {"n": 1})
    child = _submit(settings, "generate", {"n": 1}, after=(parent,))
    assert cancel_job(Store(settings), parent) == "cancelled"
    assert _job(settings, child).error == f"cancelled: job {parent}, which it waits for, was cancelled"


def test_from_id_reads_the_model_its_parent_trains(settings):
    train = _submit(settings, "train", {"epochs": 2})
    evaluate = _submit(settings, "evaluate", {"model": f"from:{train}"})
    job = _job(settings, evaluate)
    assert job.params["model"] == f"from:{train}" and job.model_id is None
    with Store(settings).transaction() as session:
        assert [p for p in _parents(session, evaluate)] == [train]  # from:ID waits for ID by itself
    assert run_job(train, settings=settings) == "succeeded"
    with Store(settings).transaction() as session:
        made = queries.model_of_job(session, train)
    assert made is not None
    job = _job(settings, evaluate)
    assert job.params["model"] == str(made.id) and job.model_id == str(made.id)
    assert run_job(evaluate, settings=settings) == "succeeded"
    assert _job(settings, evaluate).summary["model"] == str(made.id)
    # Once the parent succeeded, from:ID is its model at once.
    later = _submit(settings, "evaluate", {"model": f"from:{train}"})
    assert _job(settings, later).params["model"] == str(made.id)


def _parents(session, job_id: int) -> list[int]:
    from aigc.core.store.dependencies import parents_of

    return parents_of(session, [job_id]).get(job_id, [])


def test_bad_parents_are_refused_before_anything_is_stored(settings):
    failed = _submit(settings, "generate", {"n": 1, "fail": True})
    run_job(failed, settings=settings)
    gen = _submit(settings, "generate", {"n": 1})
    before = _count(settings)
    with pytest.raises(UsageError, match=f"job {failed} already ended failed; a job after it would never run"):
        _submit(settings, "generate", {"n": 1}, after=(failed,))
    with pytest.raises(UsageError, match="no job with id 999999"):
        _submit(settings, "generate", {"n": 1}, after=(999999,))
    with pytest.raises(UsageError, match=f"job {gen} is a toy generate job; from:ID names a toy train job"):
        _submit(settings, "evaluate", {"model": f"from:{gen}"})
    with pytest.raises(UsageError, match="malformed job id 'x'"):
        _submit(settings, "evaluate", {"model": "from:x"})
    assert _count(settings) == before


def _count(settings) -> int:
    with Store(settings).transaction() as session:
        return sum(queries.status_counts(session).values())


def test_embedded_start_runs_queued_parents_first(sqlite_settings):
    settings = sqlite_settings
    train = _submit(settings, "train", {"epochs": 1})
    gen = _submit(settings, "generate", {"n": 1}, after=(train,))
    evaluate = _submit(settings, "evaluate", {"model": f"from:{train}"}, after=(gen,))
    ran: list[int] = []

    def run(job_id: int) -> None:
        ran.append(job_id)
        run_job(job_id, settings=settings)

    start(Store(settings), [_job(settings, evaluate)], run_here=run)
    assert ran == [train, gen, evaluate]
    assert {_job(settings, j).status for j in ran} == {"succeeded"}


def test_cli_after_and_from(sqlite_settings):
    train = cli(sqlite_settings, "submit", "train", "--plugin", "toy", "-p", "epochs=1", "--json")
    assert train.returncode == 0, train.stderr
    train_id = __import__("json").loads(train.stdout)["id"]
    done = cli(
        sqlite_settings, "submit", "evaluate", "--plugin", "toy", "--model", f"from:{train_id}",
        "--after", str(train_id), "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    bad = cli(sqlite_settings, "submit", "generate", "--plugin", "toy", "--after", "1,zz")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "error: malformed job id 'zz'; a job id is a positive integer such as 42, in ASCII digits, at most 2147483647"
    ]
