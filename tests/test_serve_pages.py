"""The server-rendered pages through an HTTP client: the submit form, filters, paging and error pages.
(What needs a real browser, live updates and clicks, is in test_serve_browser.py.)"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from aigc.cli.serve import create_app
from aigc.core.runner import run_job
from aigc.core.store import Store, queries
from aigc.core.testing import submit


@pytest.fixture
def client(sqlite_settings):
    with TestClient(create_app(sqlite_settings), base_url="http://127.0.0.1") as c:
        yield c


def stored_jobs(settings) -> list:
    with Store(settings).transaction() as session:
        return list(queries.list_jobs(session, limit=100))


def test_the_form_sends_back_what_the_params_model_refuses_with_the_values_kept(sqlite_settings, client):
    page = client.post("/plugins/toy/generate", data={"n": "0", "size": "9"})
    assert page.status_code == 422
    assert "invalid param &#39;n&#39; for toy generate" in page.text
    assert re.search(r'name="size" value="9"', page.text) and re.search(r'name="n" value="0"', page.text)
    assert client.post("/plugins/toy/generate", data={"n": "four"}).status_code == 422
    assert client.post("/plugins/toy/dance", data={}).status_code == 404
    assert stored_jobs(sqlite_settings) == []


def test_the_form_submits_like_the_cli(sqlite_settings, client):
    sent = client.post(
        "/plugins/toy/generate", data={"n": "2", "size": "", "fail": ["false", "true"]}, follow_redirects=False
    )
    assert sent.status_code == 303 and re.fullmatch(r"/jobs/\d+", sent.headers["location"])
    unchecked = client.post(
        "/plugins/toy/generate", data={"n": "3", "fail": "false", "seed": "11"}, follow_redirects=False
    )
    assert unchecked.status_code == 303
    second, first = stored_jobs(sqlite_settings)
    assert first.params["n"] == 2 and first.params["size"] == 8 and first.params["fail"] is True
    assert second.params["fail"] is False and second.seed == 11
    chatter = client.post("/plugins/chatter/generate", data={"prompt": "hi there", "n": "1"}, follow_redirects=False)
    assert chatter.status_code == 303


def test_edit_and_rerun_fills_the_form_from_a_job(sqlite_settings, client):
    job_id = submit(sqlite_settings, "toy", "generate", {"n": 5, "fail": True, "seed": 4})
    form = client.get(f"/plugins/toy?from_job={job_id}").text
    generate = form[form.index('id="kind-generate"') :]
    assert generate.startswith('id="kind-generate" open')
    assert 'name="n" value="5"' in generate and 'name="seed" value="4"' in generate
    assert re.search(r'name="fail" value="true"\s+checked', generate)


def test_the_jobs_page_filters_and_pages(sqlite_settings, client):
    ids = [submit(sqlite_settings, "toy", "generate", {"n": 1}) for _ in range(5)]
    chatter = submit(sqlite_settings, "chatter", "generate", {"prompt": "x"})
    page = client.get("/jobs", params={"limit": 2}).text
    assert re.findall(r'<tr data-job="(\d+)"', page) == [str(chatter), str(ids[-1])]
    assert f"before={ids[-1]}" in page  # the link to older jobs
    older = client.get("/jobs", params={"limit": 2, "before": ids[-1]}).text
    assert re.findall(r'<tr data-job="(\d+)"', older) == [str(ids[-2]), str(ids[-3])]
    toy_only = client.get("/jobs", params={"plugin": "toy", "status": "queued"}).text
    assert len(re.findall(r"<tr data-job=", toy_only)) == 5 and "queued (5)" in toy_only
    assert "no jobs match this filter" in client.get("/jobs", params={"status": "failed"}).text
    rows = client.get("/jobs/rows", params={"plugin": "chatter"}).text
    assert rows.strip().startswith("<tr") and "<html" not in rows


def test_a_job_with_more_results_than_a_page(sqlite_settings, client):
    job_id = submit(sqlite_settings, "toy", "generate", {"n": 1001, "size": 2})
    run_job(job_id, settings=sqlite_settings)
    first = client.get(f"/jobs/{job_id}").text
    assert first.count('loading="lazy"') == 1000 and "results 0–999 of 1001" in first
    assert f'href="/jobs/{job_id}?offset=1000"' in first
    last = client.get(f"/jobs/{job_id}", params={"offset": 1000}).text
    assert re.findall(r'<img src="/api/jobs/\d+/results/(\d+)"', last) == ["1000"]


def test_errors_are_pages(client):
    for path, status, message in [
        ("/jobs/999", 404, "no job with id 999"),
        ("/jobs/abc", 404, "job_id"),
        ("/jobs/1/results/0", 404, "no job with id 1"),
        ("/plugins/nope", 404, "unknown plugin &#39;nope&#39;"),
        ("/plugins/broken", 409, "broken on purpose"),
    ]:
        page = client.get(path)
        assert page.status_code == status, path
        assert page.headers["content-type"].startswith("text/html") and message in page.text, path


def test_the_workers_page_without_a_broker(client):
    page = client.get("/workers").text
    assert "No broker is configured" in page and "Nothing running" in page


def test_curves_keep_their_spikes_when_thinned_and_survive_odd_values():
    from aigc.cli.serve.plot import downsample, line_chart

    points = [(step, 0.0) for step in range(10_000)]
    points[5_000] = (5_000, 9.0)
    kept = downsample(points)
    assert len(kept) <= 400 and (5_000, 9.0) in kept and kept[0] == (0, 0.0)
    chart = line_chart("<b>loss</b>", [(0, float("nan")), (3, 1.0)])
    assert "&lt;b&gt;loss&lt;/b&gt;" in chart and "<b>" not in chart and "last 1 @ 3" in chart
    assert "no finite values" in line_chart("d_real", [(0, float("inf"))])
    assert "step 0</text>" in line_chart("flat", [(0, 2.0)])
