"""The CLI's remote mode: with AIGC_SERVER_URL and AIGC_TOKEN set, the user commands go through a real
`aigc serve` (its jobs run embedded in it) and print what the direct path prints, with its exit codes."""

from __future__ import annotations

import json

from server_fixtures import aged, direct, remote, serving

from aigc.core.store import Store
from aigc.core.tokens import create


def test_submit_wait_and_the_listings_match_the_direct_path(served, sqlite_settings, tmp_path):
    done = remote(served, "submit", "generate", "--plugin", "toy", "-p", "n=3", "-p", "seed=4", "--json")
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)
    assert job["status"] == "succeeded" and job["token"] == "alice" and job["params"]["n"] == 3
    same = ("jobs", "show", str(job["id"]), "--json")
    shown = {**job, "webhooks": []}  # `jobs show` adds the job's webhook notices
    assert json.loads(remote(served, *same).stdout) == json.loads(direct(sqlite_settings, *same).stdout) == shown
    for args in (
        ("jobs", "list", "--json"),
        ("plugins", "--json"),
        ("plugins", "show", "toy"),
        ("plugins", "show", "toy", "--json"),
        ("jobs", "show", str(job["id"])),
        ("results", str(job["id"]), "--json"),
    ):
        there, here = remote(served, *args), direct(sqlite_settings, *args)
        assert there.returncode == here.returncode, args
        assert aged(there.stdout).splitlines() == aged(here.stdout).splitlines(), args
    assert "alice" in remote(served, "jobs", "list").stdout.splitlines()[1]
    models = [(m["id"], m["plugin"]) for m in json.loads(remote(served, "models", "--json").stdout)]
    assert models == [(m["id"], m["plugin"]) for m in json.loads(direct(sqlite_settings, "models", "--json").stdout)]
    assert aged(remote(served, "models").stdout) == aged(direct(sqlite_settings, "models").stdout)

    there, here = tmp_path / "there", tmp_path / "here"
    wrote = remote(served, "results", str(job["id"]), "--out", str(there))
    assert wrote.returncode == 0 and wrote.stderr.strip() == f"wrote 3 results of job {job['id']} to {there}"
    assert direct(sqlite_settings, "results", str(job["id"]), "--out", str(here)).returncode == 0
    assert sorted(p.name for p in there.iterdir()) == sorted(p.name for p in here.iterdir())
    assert all((there / p.name).read_bytes() == p.read_bytes() for p in here.iterdir())


def test_submit_with_out_writes_the_files_and_a_failed_job_exits_1(served, tmp_path):
    ran = remote(served, "submit", "generate", "--plugin", "toy", "-p", "n=2", "--out", str(tmp_path / "o"))
    assert ran.returncode == 0, ran.stderr
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["00000.png", "00001.png", "grid.png"]
    failed = remote(served, "submit", "generate", "--plugin", "toy", "-p", "fail=true")
    assert failed.returncode == 1 and "failed: toy generate" in failed.stderr


def test_wait_and_cancel_follow_the_server(served, sqlite_settings):
    queued = remote(served, "submit", "generate", "--plugin", "toy", "-p", "n=100", "-p", "sleep=0.2", "--no-wait")
    assert queued.returncode == 2  # the server has no broker: it runs jobs itself, as the direct path says
    assert "--no-wait needs a broker" in queued.stderr
    from aigc.core.client import Client

    job = Client(served.url, served.token).submit("generate", "toy", n=100, sleep=0.2)
    cancelled = remote(served, "jobs", "cancel", str(job["id"]))
    assert cancelled.returncode == 0 and cancelled.stderr.strip() in (
        f"job {job['id']} will stop at its next progress point",
        f"job {job['id']} cancelled",
    )
    waited = remote(served, "jobs", "wait", str(job["id"]), "--json")
    assert waited.returncode == 1 and json.loads(waited.stdout)["status"] == "cancelled"


def test_errors_are_the_same_one_lines(served, sqlite_settings):
    unknown = remote(served, "jobs", "show", "4242")
    assert (unknown.returncode, unknown.stderr) == (2, "error: no job with id 4242\n")
    assert direct(sqlite_settings, "jobs", "show", "4242").stderr == unknown.stderr
    bad = remote(served, "submit", "generate", "--plugin", "toy", "-p", "n=0")
    here = direct(sqlite_settings, "submit", "generate", "--plugin", "toy", "-p", "n=0")
    assert (bad.returncode, bad.stderr) == (here.returncode, here.stderr) and "n" in bad.stderr
    nope = remote(served, "plugins", "show", "nope")
    assert nope.returncode == 2 and nope.stderr.startswith("error: unknown plugin 'nope'")
    wrong = remote(served, "jobs", "list", token="aigc_wrong")
    assert wrong.returncode == 2 and wrong.stderr == (
        f"error: {served.url} refused the token (401): set AIGC_TOKEN to a token of `aigc tokens create`\n"
    )
    job = json.loads(remote(served, "submit", "generate", "--plugin", "toy", "-p", "n=1", "--json").stdout)
    bob = create(Store(sqlite_settings), "bob", max_n=2)
    other = remote(served, "jobs", "cancel", str(job["id"]), token=bob)
    assert other.returncode == 2 and "token 'bob' may cancel only its own jobs" in other.stderr
    over = remote(served, "submit", "generate", "--plugin", "toy", "-p", "n=3", token=bob)
    assert (
        over.returncode == 2 and over.stderr == "error: n=3 is over token 'bob''s limit of 2 per job; ask for fewer\n"
    )
    gone = remote(served, "jobs", "list", AIGC_SERVER_URL="http://127.0.0.1:9")
    assert gone.returncode == 2 and gone.stderr.startswith("error: cannot reach aigc serve at http://127.0.0.1:9: ")


def test_through_a_server_with_workers_jobs_are_queued_and_followed(cluster):
    """The server holds the broker URL, the person does not: queued to a real worker, followed by events."""
    from pathlib import Path

    worker = cluster.start("--gpus", "none", "-Q", "cpu", "--concurrency", "1")
    cluster.wait_ready(1)
    plugins = str(Path(cluster.settings.plugin_path[0]))
    with serving(cluster.settings, AIGC_BROKER_URL=cluster.broker, AIGC_PLUGIN_PATH=plugins) as server:
        sent = remote(server, "submit", "generate", "--plugin", "wtoy", "-p", "n=2", AIGC_PLUGIN_PATH=plugins)
        assert sent.returncode == 0 and sent.stderr.startswith("job ") and "queued on 'cpu'" in sent.stderr
        job_id = sent.stdout.strip()
        waited = remote(server, "jobs", "wait", job_id, "--json")
        assert waited.returncode == 0, waited.stderr
        final = json.loads(waited.stdout)
        assert final["status"] == "succeeded" and final["token"] == "alice" and final["worker"]
        done = remote(server, "submit", "generate", "--plugin", "wtoy", "-p", "n=1", "--wait", "--json")
        assert done.returncode == 0 and json.loads(done.stdout)["status"] == "succeeded"
    cluster.kill(worker)
