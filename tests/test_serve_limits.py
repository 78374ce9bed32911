"""`aigc serve` holds its ground against oversized requests and token guessing: bodies are capped (413),
free text has a length limit, a refusal quotes at most a short prefix of what was sent, and an address
that keeps giving wrong tokens is told to wait (429)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from aigc.cli.serve import create_app
from aigc.core.store import Store, queries

TOKEN = "s3cret-token-for-tests-0123456789"
MIB = 1 << 20


def job_count(settings) -> int:
    with Store(settings).transaction() as session:
        return len(queries.list_jobs(session, limit=10_000))


@pytest.fixture
def client(sqlite_settings):
    with TestClient(create_app(sqlite_settings), base_url="http://127.0.0.1") as c:
        yield c


def test_a_body_over_the_limit_is_refused_with_413_and_stores_nothing(sqlite_settings, client):
    huge = {"kind": "generate", "plugin": "chatter", "params": {"prompt": "x" * (10 * MIB)}}
    refused = client.post("/api/jobs", json=huge)
    assert refused.status_code == 413
    assert refused.json() == {
        "detail": "request body over 1048576 bytes (AIGC_MAX_REQUEST_BYTES); send less, or raise the limit"
    }
    flood = client.post("/api/jobs", json={"kind": "generate", "plugin": "toy", "params": {"n": "9" * 5_000_000}})
    assert flood.status_code == 413 and len(flood.content) < 200
    assert job_count(sqlite_settings) == 0


def test_a_chunked_body_without_a_length_is_counted_too(sqlite_settings, client):
    body = json.dumps({"kind": "generate", "plugin": "chatter", "params": {"prompt": "y" * (2 * MIB)}}).encode()
    chunks = (body[i : i + 65536] for i in range(0, len(body), 65536))  # no Content-Length: sent chunked
    refused = client.post("/api/jobs", content=chunks, headers={"content-type": "application/json"})
    assert refused.status_code == 413
    assert job_count(sqlite_settings) == 0


def test_the_limit_is_a_setting(sqlite_settings, monkeypatch):
    monkeypatch.setenv("AIGC_MAX_REQUEST_BYTES", "4096")
    with TestClient(create_app(sqlite_settings), base_url="http://127.0.0.1") as client:
        prompt = {"kind": "generate", "plugin": "chatter", "params": {"prompt": "z" * 5000}}
        assert client.post("/api/jobs", json=prompt).status_code == 413
        prompt["params"]["prompt"] = "z" * 3000
        assert client.post("/api/jobs", json=prompt).status_code == 201
        # Pages and the login form are capped as well.
        assert client.post("/plugins/chatter/generate", data={"prompt": "z" * 5000}).status_code == 413


def test_a_refusal_quotes_only_a_short_prefix_of_a_bad_value(sqlite_settings, monkeypatch):
    monkeypatch.setenv("AIGC_MAX_REQUEST_BYTES", str(16 * MIB))
    with TestClient(create_app(sqlite_settings), base_url="http://127.0.0.1") as client:
        bad_n = client.post("/api/jobs", json={"kind": "generate", "plugin": "toy", "params": {"n": "9" * 5_000_000}})
        assert bad_n.status_code == 422 and len(bad_n.content) < 1000, len(bad_n.content)
        assert "'99999" in bad_n.json()["detail"] and "…" in bad_n.json()["detail"]
        # FastAPI's own refusals (the body's shape) quote as little.
        bad_kind = client.post("/api/jobs", json={"kind": "k" * 1_000_000, "plugin": "toy"})
        assert bad_kind.status_code == 422 and len(bad_kind.content) < 1000, len(bad_kind.content)
        no_kind = client.post("/api/jobs", json={"plugin": "toy", "params": {"junk": "j" * 1_000_000}})
        assert no_kind.status_code == 422 and len(no_kind.content) < 1000, len(no_kind.content)
        bad_key = client.post("/api/jobs", json={"kind": "generate", "plugin": "toy", "params": {"k" * 100_000: 1}})
        assert bad_key.status_code == 422 and len(bad_key.content) < 1000, len(bad_key.content)
    assert job_count(sqlite_settings) == 0


def test_free_text_params_have_a_length_limit(sqlite_settings, monkeypatch):
    monkeypatch.setenv("AIGC_MAX_REQUEST_BYTES", str(16 * MIB))
    with TestClient(create_app(sqlite_settings), base_url="http://127.0.0.1") as client:
        long = client.post("/api/jobs", json={"kind": "generate", "plugin": "text", "params": {"prompt": "p" * MIB}})
        assert long.status_code == 422 and len(long.content) < 1000
        assert long.json()["detail"].startswith(
            "invalid param 'prompt' for text generate: String should have at most 100000 characters"
        )
    assert job_count(sqlite_settings) == 0


def test_strings_that_are_not_utf8_are_refused_over_the_api(sqlite_settings, client):
    body = '{"kind": "generate", "plugin": "text", "params": {"prompt": "ROMEO \\udcff"}}'
    refused = client.post("/api/jobs", content=body, headers={"content-type": "application/json"})
    assert refused.status_code == 422
    assert refused.json()["detail"] == (
        "invalid param 'prompt' for text generate: not UTF-8 text (byte 0xff at character 6); give UTF-8 text"
    )
    # Wherever else such a string goes, the refusal is a 422 that names it, never a failed response.
    for body in ('{"kind": "generate", "plugin": "\\udcff"}', '{"kind": "\\udcff", "plugin": "toy"}'):
        refused = client.post("/api/jobs", content=body, headers={"content-type": "application/json"})
        assert refused.status_code in (404, 422) and "\\udcff" in refused.text, refused.text
    assert job_count(sqlite_settings) == 0


# -- guessing the token ---------------------------------------------------------------------------
def test_wrong_tokens_at_login_are_throttled_per_address(sqlite_settings):
    app = create_app(sqlite_settings, token=TOKEN)
    with TestClient(app, base_url="http://gallery.example", client=("203.0.113.7", 5000)) as guesser:
        for _ in range(5):
            assert guesser.post("/login", data={"token": "guess"}).status_code == 401
        blocked = guesser.post("/login", data={"token": "guess"})
        assert blocked.status_code == 429
        assert 1 <= int(blocked.headers["retry-after"]) <= 60
        assert "too many wrong tokens from 203.0.113.7" in blocked.text
        # Even the right token is not checked while the address waits: a guess cannot be confirmed.
        assert guesser.post("/login", data={"token": TOKEN}, follow_redirects=False).status_code == 429
        assert guesser.get("/api/jobs", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 429
    with TestClient(app, base_url="http://gallery.example", client=("198.51.100.2", 5000)) as other:
        assert other.post("/login", data={"token": TOKEN}, follow_redirects=False).status_code == 303


def test_wrong_bearer_tokens_are_throttled_too(sqlite_settings):
    app = create_app(sqlite_settings, token=TOKEN)
    with TestClient(app, base_url="http://gallery.example", client=("203.0.113.8", 5000)) as guesser:
        for _ in range(5):
            assert guesser.get("/api/jobs", headers={"Authorization": "Bearer nope"}).status_code == 401
        refused = guesser.get("/api/jobs", headers={"Authorization": "Bearer nope"})
        assert refused.status_code == 429 and refused.json()["detail"].startswith("too many wrong tokens")
        assert "retry-after" in refused.headers
        # A request with no token at all guesses nothing: it is sent to log in, as before.
        assert guesser.get("/api/jobs").status_code == 401


@pytest.mark.parametrize("plugin", ["gan", "vae", "text", "diffusion"])
def test_every_string_param_of_the_built_in_plugins_has_a_length_limit(plugin):
    from aigc.core.plugin import JobKind
    from aigc.core.registry import get_plugin

    def bounded(prop: dict) -> bool:
        options = [o for o in prop.get("anyOf", [prop]) if o.get("type") != "null"]
        for option in options:
            if option.get("type") == "string" and "enum" not in option and "maxLength" not in option:
                return False
            if option.get("type") == "array" and ("maxItems" not in option and "maxItems" not in prop):
                return False
            if option.get("type") == "array" and not bounded(option.get("items", {})):
                return False
        return True

    for kind in JobKind:
        schema = get_plugin(plugin, ()).params_model(kind).model_json_schema()
        for name, prop in schema["properties"].items():
            assert bounded(prop), f"{plugin} {kind} param '{name}' has no length limit: {prop}"
