"""The lease owner: "worker:token" in the store, its worker part what `aigc workers` joins on."""

from __future__ import annotations

from aigc.core.jobs import Submission, create_job
from aigc.core.plugin import JobKind
from aigc.core.store import Store, lifecycle, queries
from aigc.core.store.lifecycle import LeaseOwner


def test_format_and_parse_round_trip_with_colons_in_the_worker():
    owner = LeaseOwner("myhost:4242", "0a1b2c3d")
    assert owner.format() == "myhost:4242:0a1b2c3d"
    assert LeaseOwner.parse(owner.format()) == owner
    assert LeaseOwner.parse("cpu0@node7:ffff0000") == LeaseOwner("cpu0@node7", "ffff0000")
    fresh = LeaseOwner.new("gpu1@node7")
    assert fresh.worker == "gpu1@node7" and len(fresh.token) == 8 and LeaseOwner.new("gpu1@node7") != fresh
    assert LeaseOwner.new().worker.count(":") == 1  # this process: host:pid


def test_a_claim_records_the_owner_and_its_worker(settings):
    store = Store(settings)
    job = create_job(store, Submission(JobKind.generate, "toy", {}))
    owner = LeaseOwner("cpu0@node7", "0a1b2c3d")
    claim = lifecycle.claim_job(store, job.id, owner, 30)
    assert claim is not None and claim.owner == owner
    with store.transaction() as session:
        row = queries.get_job(session, job.id)
    assert (row.lease_owner, row.worker) == ("cpu0@node7:0a1b2c3d", "cpu0@node7")
    assert lifecycle.poll(store, claim) is None
    assert lifecycle.poll(store, lifecycle.Claim(job.id, claim.attempt, LeaseOwner("cpu0@node7", "other"))) == "lost"
