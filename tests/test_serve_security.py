"""`aigc serve` is safe by default: loopback only without a token, the token on every route with one,
no cross-site writes, and no request path that reaches the filesystem or serves a stored result as a page."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from conftest import env_for
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from aigc.cli.serve import create_app
from aigc.core.store import Result, Store
from aigc.core.testing import submit

TOKEN = "s3cret-token-for-tests-0123456789"
# Values for the path parameters of every route, so each route can be called for real.
SAMPLE = {"job_id": "1", "index": "0", "name": "toy", "kind": "generate"}


def every_route() -> list[tuple[str, str]]:
    """(method, path) of every route of the API and the pages, with real values in the path."""
    from aigc.cli.serve import api, pages

    routes = [("GET", "/api/openapi.json")]
    for route in [*api.router.routes, *pages.router.routes]:
        assert isinstance(route, APIRoute)
        path = re.sub(r"\{(\w+)\}", lambda m: SAMPLE[m.group(1)], route.path)
        routes += [(method, path) for method in sorted(route.methods)]
    return routes


@pytest.fixture
def done_job(sqlite_settings) -> int:
    from aigc.core.runner import run_job

    job_id = submit(sqlite_settings, "toy", "generate", {"n": 2})
    run_job(job_id, settings=sqlite_settings)
    return job_id


def test_with_a_token_every_route_that_reveals_or_changes_needs_it(sqlite_settings, done_job):
    app = create_app(sqlite_settings, token=TOKEN)
    guesser = TestClient(app, base_url="http://gallery.example", client=("192.0.2.66", 50000))
    with TestClient(app, base_url="http://gallery.example") as client:
        routes = every_route()
        assert len(routes) >= 25  # the pages and the API, not a stray subset
        guesses = 0
        for method, path in routes:
            if path == "/login":
                continue
            refused = client.request(method, path, follow_redirects=False)
            assert refused.status_code == 401, (method, path, refused.status_code)
            assert refused.headers["www-authenticate"] == "Bearer"
            wrong = guesser.request(method, path, headers={"Authorization": "Bearer nope"}, follow_redirects=False)
            guesses += 1
            # Wrong tokens count against the client's address: from the sixth on, it is told to wait.
            assert wrong.status_code == (401 if guesses <= 5 else 429), (method, path)
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert client.get("/api/jobs", headers=bearer).json()[0]["id"] == done_job
        assert client.get(f"/jobs/{done_job}", headers=bearer).status_code == 200
        assert client.get("/api/openapi.json").status_code == 401
        assert client.get("/static/style.css").status_code == 200  # assets reveal nothing


def test_a_browser_logs_in_with_the_token_and_gets_a_cookie(sqlite_settings, done_job):
    with TestClient(create_app(sqlite_settings, token=TOKEN), base_url="http://gallery.example") as client:
        page = client.get("/jobs?status=succeeded", headers={"Accept": "text/html"}, follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fjobs%3Fstatus%3Dsucceeded"
        assert client.post("/login", data={"token": "guess", "next": "/jobs"}).status_code == 401
        for elsewhere in ("//evil.example/x", "/\t/evil.example", "/\\evil.example", "https://evil.example"):
            evil = client.post("/login", data={"token": TOKEN, "next": elsewhere}, follow_redirects=False)
            assert evil.headers["location"] == "/jobs", elsewhere  # never sent to another site after logging in
        client.cookies.clear()
        logged = client.post("/login", data={"token": TOKEN, "next": "/jobs?status=succeeded"}, follow_redirects=False)
        assert logged.status_code == 303 and logged.headers["location"] == "/jobs?status=succeeded"
        cookie = logged.cookies["aigc_session"]
        assert TOKEN not in cookie and "httponly" in logged.headers["set-cookie"].lower()
        assert "samesite=strict" in logged.headers["set-cookie"].lower()
        assert client.get(f"/api/jobs/{done_job}").json()["id"] == done_job


def test_without_a_token_only_loopback_host_names_are_served(sqlite_settings):
    with TestClient(create_app(sqlite_settings), base_url="http://127.0.0.1:8000") as client:
        assert client.get("/api/jobs").status_code == 200
        for host in ("localhost:8000", "[::1]:8000", "127.0.0.1"):
            assert client.get("/api/jobs", headers={"Host": host}).status_code == 200, host
        for host in ("evil.example", "evil.example:8000", "127.0.0.1.evil.example", "192.168.1.4:8000"):
            assert client.get("/api/jobs", headers={"Host": host}).status_code == 421, host


def test_cross_site_writes_are_refused(sqlite_settings, done_job):
    with TestClient(create_app(sqlite_settings), base_url="http://127.0.0.1:8000") as client:
        url = f"/api/jobs/{done_job}/rerun"
        assert client.post(url, headers={"Origin": "http://evil.example"}).status_code == 403
        assert client.post(url, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
        assert client.post(url, headers={"Origin": "null"}).status_code == 403
        assert client.post(url, headers={"Origin": "http://127.0.0.1:8000"}).status_code == 201
        assert client.get("/api/jobs", headers={"Origin": "http://evil.example"}).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/static/../app.py",
        "/static/..%2fapp.py",
        "/static/%2e%2e/app.py",
        "/static/..%2f..%2fcore%2fconfig.py",
        "/static//etc/passwd",
        "/static/%2fetc%2fpasswd",
        "/api/jobs/1/results/..%2f..%2fetc%2fpasswd",
    ],
)
def test_no_request_path_reaches_the_filesystem(sqlite_settings, path):
    with TestClient(create_app(sqlite_settings), base_url="http://127.0.0.1") as client:
        response = client.get(path)
        assert response.status_code in (404, 422), (path, response.status_code)
        assert b"Settings" not in response.content and b"root:" not in response.content


def test_a_stored_result_is_never_served_as_a_page(sqlite_settings, done_job):
    with Store(sqlite_settings).transaction() as session:
        session.add(
            Result(
                job_id=done_job,
                index=7,
                kind="image",
                role="../../x",
                mime="text/html",
                data=b"<script>alert(1)</script>",
                meta={},
            )
        )
    with TestClient(create_app(sqlite_settings), base_url="http://127.0.0.1") as client:
        served = client.get(f"/api/jobs/{done_job}/results/7")
        assert served.headers["content-type"] == "application/octet-stream"
        assert served.headers["content-disposition"] == f'attachment; filename="job{done_job}-result-00007.bin"'
        assert served.headers["x-content-type-options"] == "nosniff"
        assert "script-src 'self'" in served.headers["content-security-policy"]
        zipped = client.get(f"/api/jobs/{done_job}/results.zip").content
        assert b"result-00007.bin" in zipped and b"../" not in zipped.split(b"results.json")[0]


def test_serve_refuses_to_bind_beyond_loopback_without_a_token(sqlite_settings):
    env = {k: v for k, v in env_for(sqlite_settings).items() if k != "AIGC_API_TOKEN"}
    refused = subprocess.run(
        [sys.executable, "-m", "aigc.cli", "serve", "--host", "0.0.0.0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert (
        "error: binding to 0.0.0.0 lets other machines read and change the store: set AIGC_API_TOKEN" in refused.stderr
    )
    short = subprocess.run(
        [sys.executable, "-m", "aigc.cli", "serve", "--host", "0.0.0.0"],
        env={**env, "AIGC_API_TOKEN": "abc"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert short.returncode == 2 and "too short" in short.stderr


def test_the_cli_does_not_import_the_web_stack():
    code = (
        "import sys; from aigc.cli.main import app; "
        "print(sorted(m for m in ('fastapi', 'starlette', 'uvicorn', 'jinja2', 'torch') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=dict(os.environ)
    )
    assert loaded.stdout.strip() == "[]", loaded.stderr
