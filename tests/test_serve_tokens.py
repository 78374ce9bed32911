"""Named API tokens of `aigc serve`: made by `aigc tokens`, kept hashed, named on the jobs they submit,
limited, and allowed to change only their own jobs; job changes pushed as server-sent events."""

from __future__ import annotations

import json

import pytest
from conftest import cli
from fastapi.testclient import TestClient

from aigc.cli.serve import create_app
from aigc.core.jobs import wait_for
from aigc.core.store import Store
from aigc.core.store.models import Token
from aigc.core.tokens import create

ADMIN_TOKEN = "the-one-admin-token-0123456789"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def server(settings):
    """A server reached from beyond loopback, with two people's tokens and an operator's."""
    store = Store(settings)
    tokens = {
        "alice": create(store, "alice"),
        "bob": create(store, "bob", max_n=5, max_queued=1),
        "ops": create(store, "ops", admin=True),
    }
    with TestClient(create_app(settings), base_url="http://aigc.example") as client:
        yield client, tokens, store


def submit(client, token: str, **params) -> dict:
    return client.post("/api/jobs", json={"kind": "generate", "plugin": "toy", "params": params}, headers=bearer(token))


def test_tokens_commands_show_a_token_once_and_keep_only_its_hash(sqlite_settings):
    made = cli(sqlite_settings, "tokens", "create", "carol", "--max-queued", "3")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("aigc_") and len(token) > 40 and "shown this once" in made.stderr
    with Store(sqlite_settings).transaction() as session:
        row = session.query(Token).one()
        assert row.name == "carol" and row.max_queued == 3 and row.admin is False
        assert token not in json.dumps([str(getattr(row, c.key)) for c in Token.__table__.columns])
    listed = json.loads(cli(sqlite_settings, "tokens", "list", "--json").stdout)
    assert [(t["name"], t["last_used_at"]) for t in listed] == [("carol", None)]
    assert token not in cli(sqlite_settings, "tokens", "list").stdout
    again = cli(sqlite_settings, "tokens", "create", "carol")
    assert again.returncode == 2 and again.stderr.strip() == (
        "error: a token named 'carol' exists; revoke it first (`aigc tokens revoke carol`)"
    )
    bad = cli(sqlite_settings, "tokens", "create", "no spaces")
    assert bad.returncode == 2 and "token name 'no spaces' is not valid" in bad.stderr
    assert cli(sqlite_settings, "tokens", "revoke", "carol").returncode == 0
    gone = cli(sqlite_settings, "tokens", "revoke", "carol")
    assert gone.returncode == 2 and gone.stderr.strip() == "error: no token named 'carol'; tokens: none"


def test_a_named_token_is_needed_and_its_name_goes_on_the_job(settings, server):
    client, tokens, store = server
    assert client.get("/api/jobs").status_code == 401
    assert client.get("/api/jobs", headers=bearer("aigc_wrong")).status_code == 401
    job = submit(client, tokens["alice"], n=2).json()
    assert job["token"] == "alice"
    assert wait_for(store, job["id"], interval_s=0.05, timeout_s=30).status == "succeeded"
    listed = client.get("/api/jobs", headers=bearer(tokens["bob"])).json()  # listing is open to the team
    assert [(j["id"], j["token"]) for j in listed] == [(job["id"], "alice")]
    page = client.get(f"/jobs/{job['id']}", headers=bearer(tokens["bob"])).text
    assert "token alice" in page
    assert "<td>alice</td>" in client.get("/jobs", headers=bearer(tokens["bob"])).text
    used = {t["name"]: t["last_used_at"] for t in json.loads(cli(settings, "tokens", "list", "--json").stdout)}
    assert used["alice"] is not None and used["bob"] is not None and used["ops"] is None


def test_only_the_owner_or_an_admin_may_cancel_or_rerun(server):
    client, tokens, store = server
    job = submit(client, tokens["alice"], n=50, sleep=0.2).json()
    refused = client.post(f"/api/jobs/{job['id']}/cancel", headers=bearer(tokens["bob"]))
    assert refused.status_code == 403
    assert refused.json()["detail"] == (
        f"job {job['id']} was submitted by token 'alice'; token 'bob' may cancel only its own jobs "
        "(an admin token may any)"
    )
    assert client.post(f"/api/jobs/{job['id']}/rerun", headers=bearer(tokens["bob"])).status_code == 403
    assert client.post(f"/jobs/{job['id']}/cancel", headers=bearer(tokens["bob"])).status_code == 403  # the page too
    assert client.post(f"/api/jobs/{job['id']}/cancel", headers=bearer(tokens["alice"])).status_code == 200
    assert wait_for(store, job["id"], interval_s=0.05, timeout_s=30).status == "cancelled"
    again = client.post(f"/api/jobs/{job['id']}/rerun", headers=bearer(tokens["ops"]))
    assert again.status_code == 201 and again.json()["token"] == "ops"
    assert client.post(f"/api/jobs/{again.json()['id']}/cancel", headers=bearer(ADMIN_TOKEN)).status_code == 401


def test_the_admin_token_of_aigc_api_token_still_works_beside_named_ones(settings):
    store = Store(settings)
    alice = create(store, "alice")
    with TestClient(create_app(settings, token=ADMIN_TOKEN), base_url="http://aigc.example") as client:
        job = submit(client, alice, n=40, sleep=0.2).json()
        assert client.get("/api/jobs", headers=bearer(ADMIN_TOKEN)).status_code == 200
        cancelled = client.post(f"/api/jobs/{job['id']}/cancel", headers=bearer(ADMIN_TOKEN))
        assert cancelled.status_code == 200
        own = submit(client, ADMIN_TOKEN, n=1).json()
        assert own["token"] == "admin"
        wait_for(store, own["id"], interval_s=0.05, timeout_s=30)


def test_limits_answer_413_and_429_with_one_line_and_store_nothing(settings):
    store = Store(settings)
    bob = create(store, "bob", max_n=5, max_queued=1, max_request_bytes=2048)
    with TestClient(create_app(settings), base_url="http://aigc.example") as client:
        too_many = submit(client, bob, n=6)
        assert too_many.status_code == 413
        assert too_many.json()["detail"] == "n=6 is over token 'bob''s limit of 5 per job; ask for fewer"
        big = client.post(
            "/api/jobs",
            json={"kind": "generate", "plugin": "toy", "params": {"prompt": "x" * 4000}},
            headers=bearer(bob),
        )
        assert big.status_code == 413
        assert big.json()["detail"] == (
            "request body over 2048 bytes (the limit of token 'bob'); send less, or raise the limit"
        )
        first = submit(client, bob, n=5, sleep=0.3)
        assert first.status_code == 201
        second = submit(client, bob, n=1)
        assert second.status_code == 429
        assert second.json()["detail"] == (
            "token 'bob' has 1 jobs queued or running, its limit; submit again when one ends"
        )
        assert [j["id"] for j in client.get("/api/jobs", headers=bearer(bob)).json()] == [first.json()["id"]]
        wait_for(store, first.json()["id"], interval_s=0.05, timeout_s=30)
        assert submit(client, bob, n=1).status_code == 201  # one ended: room again


def test_a_revoked_token_is_refused_at_its_next_request(server):
    client, tokens, store = server
    assert client.get("/api/plugins", headers=bearer(tokens["alice"])).status_code == 200
    from aigc.core.tokens import revoke

    revoke(store, "alice")
    assert client.get("/api/plugins", headers=bearer(tokens["alice"])).status_code == 401


def test_login_with_a_named_token_sets_a_session_that_revoking_ends(server):
    client, tokens, store = server
    logged = client.post("/login", data={"token": tokens["alice"], "next": "/jobs"}, follow_redirects=False)
    assert logged.status_code == 303
    assert client.get("/api/jobs").status_code == 200  # the cookie
    job = client.post("/api/jobs", json={"kind": "generate", "plugin": "toy", "params": {"n": 1}}).json()
    assert job["token"] == "alice"
    from aigc.core.tokens import revoke

    revoke(store, "alice")
    assert client.get("/api/jobs").status_code == 401


def test_job_events_push_every_change_until_the_job_ends(server):
    client, tokens, store = server
    job = submit(client, tokens["alice"], n=4, sleep=0.6).json()  # progress is written at most every 0.5 s
    states = []
    with client.stream("GET", f"/api/jobs/{job['id']}/events", headers=bearer(tokens["alice"])) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                states.append(json.loads(line[6:]))
    assert states[-1]["status"] == "succeeded" and states[-1]["progress"] == 1.0
    progress = [s["progress"] for s in states]
    assert progress == sorted(progress) and len(set(progress)) >= 3  # the steps, not only the end
    assert client.get("/api/jobs/999/events", headers=bearer(tokens["alice"])).status_code == 404


def test_every_openapi_path_needs_a_valid_token_beyond_loopback(server):
    client, tokens, store = server
    document = client.get("/api/openapi.json", headers=bearer(tokens["alice"])).json()
    assert client.get("/api/openapi.json").status_code == 401
    samples = {"job_id": "1", "index": "0", "name": "toy", "sweep_id": "1"}
    checked = 0
    for path, operations in document["paths"].items():
        concrete = path.format(**{k: v for k, v in samples.items() if "{" + k + "}" in path})
        for method in operations:
            for headers in ({}, bearer("aigc_not-a-token"), bearer(tokens["alice"] + "x")):
                answer = client.request(method.upper(), concrete, headers=headers)
                # 401; or, once this address sent five wrong tokens, 429 without checking any token of its
                refused = answer.status_code == 401 or (
                    answer.status_code == 429 and "too many wrong tokens" in answer.text
                )
                assert refused, (method, path, headers, answer.status_code)
            checked += 1
    assert checked >= 14 and "/api/jobs/{job_id}/events" in document["paths"]


def test_the_jobs_page_is_told_when_a_job_is_added_or_changes(server):
    client, tokens, store = server
    with client.stream("GET", "/jobs/changes", headers=bearer(tokens["bob"])) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        assert next(lines) == "event: jobs"  # at once: the page's rows as they stand
        next(lines), next(lines)
        submit(client, tokens["alice"], n=1)
        assert next(lines) == "event: jobs"  # the new job
    assert 'data-live-events="/jobs/changes"' in client.get("/jobs", headers=bearer(tokens["bob"])).text
