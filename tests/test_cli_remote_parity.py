"""Remote mode says what the direct path says: each command runs once on the store and once through a real
`aigc serve` over that store, and the two outputs are compared as they are (job ids aside)."""

from __future__ import annotations

import json
from datetime import timedelta

from server_fixtures import aged, direct, remote
from sqlalchemy import update

from aigc.core.client import Client
from aigc.core.store import Job, Store
from aigc.core.store.models import utcnow
from aigc.core.testing import outcome_of, submit

# 2 sequences of 80 tokens from the text plugin's bundled default: long enough to stream in many pieces.
TEXT_JOB = ("--plugin", "text", "--prompt", "ROMEO:", "-p", "max_new_tokens=80", "-p", "num_return_sequences=2")


def test_a_text_job_streams_to_stdout_through_the_server_as_it_does_directly(served, sqlite_settings):
    args = ("submit", "generate", *TEXT_JOB, "-p", "seed=3", "--wait")
    here, there = direct(sqlite_settings, *args), remote(served, *args)
    assert here.returncode == there.returncode == 0, (here.stderr, there.stderr)
    items = [r.text for r in outcome_of(sqlite_settings, 1).items]
    assert here.stdout == "\n\n".join(items) + "\n"  # the streamed text, then the line end after it
    assert there.stdout == here.stdout
    assert there.stderr.splitlines()[0] == here.stderr.splitlines()[0].replace("job 1 ", "job 2 ")

    # The text comes as it is produced: the first sequence's before the job's first progress point.
    pieces: list[tuple[str, float]] = []  # (text, the job's progress when it came)
    progress = [0.0]
    with Client(served.url, served.token) as client:
        job = client.submit("generate", "text", prompt="ROMEO:", max_new_tokens=80, num_return_sequences=2, seed=3)
        done = client.wait(
            job,
            on_progress=lambda j: progress.append(j["progress"]),
            on_text=lambda t: pieces.append((t, progress[-1])),
        )
    assert done["status"] == "succeeded" and "".join(t for t, _ in pieces) == "\n\n".join(items)
    first_sequence = [t for t, at in pieces if at == 0.0]
    assert len(first_sequence) >= 3 and "".join(first_sequence).startswith(items[0][:40])


def test_json_listings_are_the_same_keys_and_values_through_the_server(served, sqlite_settings):
    trained = direct(sqlite_settings, "submit", "train", "--plugin", "toy", "-p", "epochs=2", "--json")
    assert trained.returncode == 0, trained.stderr
    train_id = json.loads(trained.stdout)["id"]
    used = ("submit", "evaluate", "--plugin", "toy", "--model", f"from:{train_id}", "--json")
    assert remote(served, *used).returncode == 0  # the model is now read by a job: used_by counts it
    generated = remote(served, "submit", "generate", "--plugin", "toy", "-p", "n=2", "--timeout", "1h", "--json")
    parent = json.loads(generated.stdout)["id"]
    labelled = ("submit", "generate", "--plugin", "toy", "-p", "n=1", "--label", "visible", "--after", str(parent))
    child = json.loads(remote(served, *labelled, "--json").stdout)["id"]

    models = remote(served, "models", "--json")
    assert models.stdout == direct(sqlite_settings, "models", "--json").stdout
    rows = json.loads(models.stdout)
    assert set(rows[0]) == {
        "id",
        "plugin",
        "name",
        "format",
        "sha256",
        "source_job_id",
        "base_model",
        "config",
        "metrics",
        "created_at",
        "bundled",
        "used_by",
    }
    assert [(r["source_job_id"], r["used_by"]) for r in rows if not r["bundled"]] == [(train_id, 1)]
    for args in (
        ("models",),
        ("models", "--plugin", "toy", "--json"),
        ("jobs", "list", "--json"),
        ("jobs", "list"),
        ("jobs", "show", str(parent), "--json"),
        ("jobs", "show", str(child), "--json"),
        ("jobs", "show", str(child)),
        ("jobs", "show", str(train_id)),
        ("results", str(parent), "--json"),
        ("results", str(train_id), "--json"),
        ("plugins", "--json"),
        ("plugins", "show", "text", "--json"),
    ):
        there, here = remote(served, *args), direct(sqlite_settings, *args)
        assert (there.returncode, aged(there.stdout)) == (here.returncode, aged(here.stdout)), args
    shown = json.loads(remote(served, "jobs", "show", str(child), "--json").stdout)
    assert (shown["label"], json.loads(generated.stdout)["timeout_s"]) == ("visible", 3600)
    assert f"after job {parent}" in aged(remote(served, "jobs", "show", str(child)).stdout)


def staged(settings, status: str, lease_s: float = 0.0) -> int:
    """A job of token 'alice' (the server's test token) left as a process would have left it."""
    job_id = submit(settings, "toy", "generate", {"n": 1}, token_name="alice")
    if status == "running":  # a live attempt's lease, or (lease_s <= 0) one that lapsed: its process died
        moment = utcnow() + timedelta(seconds=lease_s)
        values = {"status": status, "attempts": 1, "lease_owner": "gone:1:x", "lease_expires_at": moment}
    else:
        values = {"status": status, "finished_at": utcnow()}
    with Store(settings).transaction() as session:
        session.execute(update(Job).where(Job.id == job_id).values(**values))
    return job_id


def test_cancel_says_the_same_line_on_both_paths_in_every_case(served, sqlite_settings):
    for status, lease_s, says in (
        ("queued", 0, "job ID cancelled"),
        ("running", 3600, "job ID will stop at its next progress point"),
        ("running", -5, "job ID cancelled (its lease had lapsed: nothing was running it)"),
        ("succeeded", 0, "job ID already ended succeeded"),
        ("cancelled", 0, "job ID already ended cancelled"),
    ):
        here_id, there_id = staged(sqlite_settings, status, lease_s), staged(sqlite_settings, status, lease_s)
        here = direct(sqlite_settings, "jobs", "cancel", str(here_id))
        there = remote(served, "jobs", "cancel", str(there_id))
        assert (here.returncode, here.stdout, here.stderr) == (0, "", says.replace("ID", str(here_id)) + "\n")
        assert (there.returncode, there.stdout, there.stderr) == (0, "", says.replace("ID", str(there_id)) + "\n")
    unknown = ("jobs", "cancel", "4242")
    assert remote(served, *unknown).stderr == direct(sqlite_settings, *unknown).stderr == "error: no job with id 4242\n"
    malformed = ("jobs", "cancel", "x1")
    there, here = remote(served, *malformed), direct(sqlite_settings, *malformed)
    assert (there.returncode, there.stderr) == (here.returncode, here.stderr) and here.returncode == 2
    # Only the server knows tokens: another's job is refused in one line (the direct path is the operator's).
    bobs = submit(sqlite_settings, "toy", "generate", {"n": 1}, token_name="bob")
    refused = remote(served, "jobs", "cancel", str(bobs))
    assert (refused.returncode, refused.stderr) == (
        2,
        f"error: job {bobs} was submitted by token 'bob'; token 'alice' may cancel only its own jobs "
        "(an admin token may any)\n",
    )
    assert json.loads(direct(sqlite_settings, "jobs", "show", str(bobs), "--json").stdout)["status"] == "queued"
