"""The JSON API of `aigc serve` through an HTTP client, against the real store (SQLite and PostgreSQL).

Jobs submitted here run for real, in the server's embedded thread, with the cheap toy plugins.
"""

from __future__ import annotations

import io
import json
import re
import time
import zipfile

import pytest
from fastapi.testclient import TestClient
from service_fixtures import flushdb

from aigc.cli.serve import create_app
from aigc.core.images import read_png_text
from aigc.core.jobs import wait_for
from aigc.core.provenance import unlabelled
from aigc.core.store import Store, queries


@pytest.fixture
def client(settings):
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as c:
        yield c


def submit(client, kind: str, plugin: str, **params) -> dict:
    response = client.post("/api/jobs", json={"kind": kind, "plugin": plugin, "params": params})
    assert response.status_code == 201, response.text
    return response.json()


def finished(settings, job_id: int) -> dict:
    job = wait_for(Store(settings), job_id, interval_s=0.05, timeout_s=60)
    assert job.state.finished, f"job {job_id} still {job.status}"
    return {"status": job.status, "error": job.error}


def until(predicate, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_submit_then_list_show_and_download(settings, client):
    job = submit(client, "generate", "toy", n=5, seed=3)
    assert job["status"] == "queued" and job["params"]["n"] == 5 and job["seed"] == 3
    assert finished(settings, job["id"])["status"] == "succeeded"

    listed = client.get("/api/jobs").json()
    assert [j["id"] for j in listed] == [job["id"]]
    assert client.get("/api/jobs", params={"status": "succeeded", "plugin": "toy"}).json()[0]["id"] == job["id"]
    assert client.get("/api/jobs", params={"status": "failed"}).json() == []
    assert client.get("/api/jobs", params={"plugin": "chatter"}).json() == []
    shown = client.get(f"/api/jobs/{job['id']}").json()
    assert shown["status"] == "succeeded" and shown["progress"] == 1.0 and shown["attempts"] == 1

    results = client.get(f"/api/jobs/{job['id']}/results").json()
    assert [r["index"] for r in results] == [0, 1, 2, 3, 4]
    with Store(settings).transaction() as session:
        stored = [r.data for r in queries.results_of(session, job["id"])]
    first = client.get(results[0]["url"])
    assert first.headers["content-type"] == "image/png" and first.content == stored[0]
    assert read_png_text(first.content) == {"index": "0", "seed": "3"}
    assert "attachment" in client.get(results[0]["url"], params={"download": "true"}).headers["content-disposition"]

    archive = client.get(f"/api/jobs/{job['id']}/results.zip")
    assert archive.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zf:
        assert zf.namelist() == [f"{i:05d}.png" for i in range(5)] + ["results.json"]
        assert [zf.read(f"{i:05d}.png") for i in range(5)] == stored
        manifest = json.loads(zf.read("results.json"))
    assert manifest["job"]["id"] == job["id"] and manifest["results"][4]["file"] == "00004.png"


def test_submit_refuses_what_the_cli_refuses_and_stores_nothing(settings, client):
    cases = [
        ({"kind": "generate", "plugin": "nope", "params": {}}, "unknown plugin 'nope'; available: "),
        ({"kind": "generate", "plugin": "toy", "params": {"n": 0}}, "invalid param 'n' for toy generate"),
        ({"kind": "generate", "plugin": "toy", "params": {"colour": "red"}}, "unknown param 'colour' for toy generate"),
        ({"kind": "evaluate", "plugin": "toy", "params": {"model": "12"}}, "no toy model with id 12"),
        ({"kind": "generate", "plugin": "broken", "params": {}}, "plugin 'broken' is broken"),
    ]
    for body, message in cases:
        response = client.post("/api/jobs", json=body)
        assert response.status_code == 422, response.text
        assert message in response.json()["detail"]
    assert client.post("/api/jobs", json={"kind": "dance", "plugin": "toy"}).status_code == 422
    assert client.get("/api/jobs").json() == []


def test_cancel_a_running_job_and_a_queued_one(settings, client):
    running = submit(client, "generate", "toy", n=400, sleep=0.05)
    waiting = submit(client, "generate", "toy", n=2)  # one embedded slot: it waits behind the first
    until(lambda: client.get(f"/api/jobs/{running['id']}").json()["status"] == "running")

    queued = client.post(f"/api/jobs/{waiting['id']}/cancel").json()
    assert queued == {
        "id": waiting["id"],
        "was": "queued",
        "status": "cancelled",
        "lease_lapsed": False,
        "message": f"job {waiting['id']} cancelled",
    }
    stopping = client.post(f"/api/jobs/{running['id']}/cancel").json()
    assert stopping["status"] == "running" and "next progress point" in stopping["message"]
    assert finished(settings, running["id"]) == {"status": "cancelled", "error": "cancelled while running"}
    again = client.post(f"/api/jobs/{running['id']}/cancel").json()
    assert again["message"] == f"job {running['id']} already ended cancelled"
    assert client.get(f"/api/jobs/{waiting['id']}").json()["attempts"] == 0  # it never ran


def test_rerun_gives_the_same_output(settings, client):
    first = submit(client, "generate", "toy", n=3)
    finished(settings, first["id"])
    again = client.post(f"/api/jobs/{first['id']}/rerun")
    assert again.status_code == 201
    second = again.json()
    assert second["id"] != first["id"] and second["params"] == client.get(f"/api/jobs/{first['id']}").json()["params"]
    finished(settings, second["id"])
    for index in range(3):
        a = client.get(f"/api/jobs/{first['id']}/results/{index}").content
        b = client.get(f"/api/jobs/{second['id']}/results/{index}").content
        assert unlabelled(a) == unlabelled(b)  # the provenance label names each job


def test_training_curves_models_and_lineage(settings, client):
    train = submit(client, "train", "toy", epochs=3)
    assert finished(settings, train["id"])["status"] == "succeeded"
    points = client.get(f"/api/jobs/{train['id']}/metrics").json()
    assert [(p["key"], p["step"]) for p in points] == [("loss", 0), ("loss", 1), ("loss", 2)]

    models = client.get("/api/models", params={"plugin": "toy"}).json()
    assert len(models) == 1
    model = models[0]
    assert model["source_job_id"] == train["id"] and model["bundled"] is False and model["used_by"] == 0
    evaluate = submit(client, "evaluate", "toy", model=model["id"])
    assert finished(settings, evaluate["id"])["status"] == "succeeded"
    assert client.get(f"/api/jobs/{evaluate['id']}").json()["summary"]["weight_sum"] == 12.0
    assert client.get("/api/models", params={"plugin": "toy"}).json()[0]["used_by"] == 1

    page = client.get(f"/jobs/{train['id']}").text
    assert 'data-metric="loss"' in page and "<polyline" in page
    assert f'href="/jobs/{train["id"]}"' in client.get("/models").text


def test_text_results(settings, client):
    job = submit(client, "generate", "chatter", prompt="hello <b>web</b>", n=2)
    finished(settings, job["id"])
    results = client.get(f"/api/jobs/{job['id']}/results").json()
    assert [r["text"] for r in results] == ["hello <b>web</b> #0", "hello <b>web</b> #1"]
    file = client.get(results[1]["url"])
    assert file.headers["content-type"] == "text/plain; charset=utf-8" and file.text == "hello <b>web</b> #1"
    page = client.get(f"/jobs/{job['id']}").text
    assert "hello &lt;b&gt;web&lt;/b&gt; #0" in page and "<b>web</b>" not in page


def test_plugins_and_workers(settings, client):
    plugins = {p["name"]: p for p in client.get("/api/plugins").json()}
    assert plugins["toy"]["status"] == "ok" and plugins["toy"]["modality"] == "image"
    assert plugins["broken"]["status"] == "broken" and "broken on purpose" in plugins["broken"]["error"]
    toy = client.get("/api/plugins/toy").json()
    from toy_plugins.toy import ToyGenerate  # the same params model the CLI validates with

    assert toy["params"]["generate"] == ToyGenerate.model_json_schema()
    assert client.get("/api/plugins/broken").status_code == 409
    assert client.get("/api/plugins/nope").status_code == 404
    cluster = client.get("/api/workers").json()
    assert cluster["broker"] is False and cluster["workers"] == []


def test_ids_that_name_nothing(settings, client):
    job = submit(client, "generate", "toy", n=1)
    finished(settings, job["id"])
    assert client.get("/api/jobs/424242").status_code == 404
    assert client.get("/api/jobs/424242").json() == {"detail": "no job with id 424242"}
    assert client.post("/api/jobs/424242/cancel").status_code == 404
    assert client.get(f"/api/jobs/{job['id']}/results/1").status_code == 404
    for path in (
        "/api/jobs/0",
        "/api/jobs/-1",
        "/api/jobs/2147483648",
        "/api/jobs/abc",
        f"/api/jobs/{job['id']}/results/-1",
    ):
        assert client.get(path).status_code == 422, path
    assert client.get("/api/jobs", params={"before": 1}).json() == []
    assert client.get("/api/jobs", params={"plugin": "no\x00pe"}).status_code == 422
    assert (
        client.post("/api/jobs", json={"kind": "generate", "plugin": "toy", "params": {"model": "9" * 30}}).status_code
        == 422
    )


@pytest.fixture
def broker_settings(sqlite_settings, redis_db):
    from dataclasses import replace

    flushdb(redis_db)
    yield replace(sqlite_settings, broker_url=f"redis://127.0.0.1:6379/{redis_db}")
    flushdb(redis_db)


def test_with_a_broker_jobs_go_to_the_workers_queues(broker_settings):
    with TestClient(create_app(broker_settings), base_url="http://127.0.0.1") as client:
        job = submit(client, "generate", "toy", n=2)
        time.sleep(0.5)
        assert client.get(f"/api/jobs/{job['id']}").json()["status"] == "queued"  # no worker runs it here
        with Store(broker_settings).transaction() as session:
            assert queries.get_job(session, job["id"]).dispatched_at is not None
        cluster = client.get("/api/workers").json()
        assert cluster["broker"] is True and cluster["broker_error"] is None and cluster["workers"] == []
        cpu = {q["queue"]: q for q in cluster["queues"]}["cpu"]
        assert cpu == {"queue": "cpu", "queued": 1, "messages": 1}
        page = client.get("/workers").text
        assert "no live workers" in page and re.search(r">cpu</a></td><td>1</td><td>1</td>", page)
        assert "go to the broker's <code>cpu</code> queue" in client.get("/plugins/toy").text


def test_with_the_broker_down_a_submitted_job_waits_in_the_store(sqlite_settings):
    from dataclasses import replace

    down = replace(sqlite_settings, broker_url="redis://127.0.0.1:1/0")  # nothing listens on port 1
    with TestClient(create_app(down), base_url="http://127.0.0.1") as client:
        response = client.post("/api/jobs", json={"kind": "generate", "plugin": "toy", "params": {}})
        assert response.status_code == 503
        assert (
            "cannot reach the broker" in response.json()["detail"]
            and "stays queued in the store" in response.json()["detail"]
        )
        assert [j["status"] for j in client.get("/api/jobs").json()] == ["queued"]
        assert client.get("/api/workers").json()["broker_error"].startswith("cannot reach the broker")


def test_stopping_the_server_cancels_the_jobs_it_runs(sqlite_settings):
    with TestClient(create_app(sqlite_settings), base_url="http://127.0.0.1") as client:
        running = submit(client, "generate", "toy", n=400, sleep=0.05)
        waiting = submit(client, "generate", "toy", n=1)
        until(lambda: client.get(f"/api/jobs/{running['id']}").json()["status"] == "running")
    # The server has stopped: no job of its is left running or queued with nobody to run it.
    with Store(sqlite_settings).transaction() as session:
        assert queries.get_job(session, running["id"]).status == "cancelled"
        assert queries.get_job(session, waiting["id"]).status == "cancelled"
