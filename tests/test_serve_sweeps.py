"""The sweep, sweeps and compare pages, and the jobs list grouped by sweep, through an HTTP client."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from aigc.cli.serve import create_app
from aigc.core.plugin import JobKind
from aigc.core.runner import run_job
from aigc.core.store import Store
from aigc.core.sweep_spec import parse_axes
from aigc.core.sweeps import Chained, SweepRequest, create_sweep, start_sweep


@pytest.fixture
def client(sqlite_settings):
    with TestClient(create_app(sqlite_settings), base_url="http://127.0.0.1") as c:
        yield c


def _sweep(settings, run: bool = True) -> tuple[int, list]:
    store = Store(settings)
    request = SweepRequest(
        kind=JobKind.train, plugin="toy", axes=parse_axes(["epochs=1,2,3"]), then=(Chained(JobKind.evaluate),)
    )
    sweep_id, jobs = create_sweep(store, request)
    if run:
        start_sweep(store, jobs, run_here=lambda job_id: run_job(job_id, settings=settings))
    return sweep_id, jobs


def test_sweep_page_table_curves_scatter_and_best_samples(sqlite_settings, client):
    sweep_id, jobs = _sweep(sqlite_settings)
    trains = [j for j in jobs if j.kind == "train"]
    page = client.get(f"/sweeps/{sweep_id}?by=weight_sum&highest=true")
    assert page.status_code == 200
    rows = re.findall(r'<tr data-job="(\d+)"( class="best")?>', page.text)
    assert [int(job) for job, _ in rows] == [t.id for t in reversed(trains)]  # 3 epochs weigh most
    assert rows[0][1] and not any(best for _, best in rows[1:])
    scatter = page.text[page.text.index('id="scatters"') :]
    assert scatter.count('class="dot"') == 3 and 'data-param="epochs"' in scatter
    curves = page.text[page.text.index('id="curves"') :]
    assert curves.count("<polyline") == 3  # one loss curve per trained job, overlaid
    samples = page.text[page.text.index('id="best-samples"') :]
    assert len(re.findall(rf'<img src="/api/jobs/{trains[-1].id}/results/\d+"', samples)) == 3  # 3 epochs' samples
    listed = client.get("/sweeps").text
    assert f'<tr data-sweep="{sweep_id}">' in listed and "6 succeeded" in listed
    assert client.get("/sweeps/999").status_code == 404


def test_jobs_list_tags_and_filters_a_sweeps_jobs(sqlite_settings, client):
    sweep_id, jobs = _sweep(sqlite_settings, run=False)
    from aigc.core.testing import submit

    other = submit(sqlite_settings, "toy", "generate", {"n": 1})
    everything = client.get("/jobs").text
    assert everything.count(f'class="sweep-tag" href="/sweeps/{sweep_id}"') == len(jobs)
    assert everything.count(f'<tr class="sweep-group" data-sweep="{sweep_id}">') == 1  # one header over its rows
    only = client.get(f"/jobs?sweep={sweep_id}").text
    shown = {int(j) for j in re.findall(r'<tr data-job="(\d+)">', only)}
    assert shown == {j.id for j in jobs} and other not in shown
    cancelled = client.post(f"/sweeps/{sweep_id}/cancel", follow_redirects=False)
    assert cancelled.status_code == 303
    assert "6 cancelled" in client.get("/sweeps").text


def test_compare_page(sqlite_settings, client):
    _, jobs = _sweep(sqlite_settings)
    first, second = [j.id for j in jobs if j.kind == "train"][:2]
    page = client.get(f"/compare?ids={first},{second}")
    assert page.status_code == 200
    assert re.search(r'<tr class="param"><th>epochs</th><td>1</td><td>2</td></tr>', page.text)
    assert page.text[page.text.index('id="curves"') :].count("<polyline") == 2
    refused = client.get(f"/compare?ids={first}")
    assert refused.status_code == 422 and "compare needs at least two jobs or models" in refused.text
    assert client.get("/compare").status_code == 200


def test_sweep_api_starts_lists_shows_and_cancels(sqlite_settings, client):
    refused = client.post("/api/sweeps", json={"kind": "train", "plugin": "toy", "params": {"epochs": [1, 0]}})
    assert refused.status_code == 422 and refused.json()["detail"].startswith("invalid param 'epochs' for toy train")
    assert client.get("/api/sweeps").json() == []
    made = client.post(
        "/api/sweeps",
        json={
            "kind": "train",
            "plugin": "toy",
            "params": {"epochs": "1,2", "sleep": 0},
            "then": [{"kind": "evaluate"}],
        },
    )
    assert made.status_code == 201, made.text
    sweep_id, jobs = made.json()["id"], made.json()["jobs"]
    assert len(jobs) == 4
    import time

    deadline = time.monotonic() + 60
    while client.get(f"/api/sweeps/{sweep_id}").json()["jobs"] != {"succeeded": 4}:
        assert time.monotonic() < deadline, client.get(f"/api/sweeps/{sweep_id}").json()
        time.sleep(0.2)
    shown = client.get(f"/api/sweeps/{sweep_id}", params={"by": "weight_sum", "highest": True}).json()
    assert [(p["params"], p["best"]) for p in shown["points"]] == [({"epochs": 2}, True), ({"epochs": 1}, False)]
    assert shown["points"][0]["metrics_from"].startswith("evaluate job ")
    assert client.post(f"/api/sweeps/{sweep_id}/cancel").json() == {"cancelled": 0, "stopping": 0}
    assert client.get("/api/sweeps/424242").status_code == 404
