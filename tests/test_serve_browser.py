"""The pages of a real `aigc serve` in headless Chromium (Debian's package, driven by Playwright for Python).

A person submits a GAN job from the form, watches it finish, sees the 64 digits and opens one; cancels a
running job; and, on a server bound beyond loopback, gets nowhere without the token.
"""

from __future__ import annotations

import importlib.util
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from conftest import env_for
from service_fixtures import need

from aigc.core.testing import temporary_settings

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TOKEN = "browser-test-token-0123456789abcdef"
SLOW = 120_000  # ms: a first GAN job imports torch in the server on this loaded 2-core machine


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    need(
        CHROMIUM.exists(),
        f"Debian's chromium at {CHROMIUM}",
        "`apt-get install -y chromium` (as root, `bash scripts/test.sh` does it)",
    )
    need(importlib.util.find_spec("playwright") is not None, "Playwright for Python", "`pip install -e '.[test]'`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Served:
    url: str
    process: subprocess.Popen[str]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(folder: Path, *args: str, **env: str) -> Served:
    settings = temporary_settings(folder)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "aigc.cli", "serve", "--port", str(port), *args],
        env=env_for(settings, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            pytest.fail(f"aigc serve exited {process.returncode}: {process.stdout.read() if process.stdout else ''}")
        try:
            if httpx.get(url + "/static/style.css", timeout=2).status_code == 200:
                return Served(url, process)
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "aigc serve did not start within 60 s"
        time.sleep(0.2)


def stop_server(served: Served) -> None:
    served.process.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown: embedded jobs end cancelled
    try:
        served.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        served.process.kill()
        served.process.wait()


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    server = start_server(tmp_path_factory.mktemp("served"))
    yield server
    stop_server(server)


def status_badge(page):  # the job's status next to its title, kept live by the page's polling
    return page.locator("h1 [data-status]")


def image_plugin() -> str:
    """The real GAN when its bundled model is there (it is, in the repository); else the cheap toy plugin."""
    from aigc.core.catalog import bundled_path
    from aigc.plugins.gan import GanPlugin

    return "gan" if bundled_path(GanPlugin) is not None else "toy"


def test_submit_a_gan_job_from_the_form_watch_it_finish_and_open_a_digit(served, browser):
    from playwright.sync_api import expect

    plugin = image_plugin()
    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    page.goto(served.url + "/plugins")
    page.get_by_role("link", name=plugin, exact=True).click()
    form = page.locator("form[data-kind=generate]")
    form.locator("input[name=n]").fill("64")
    form.locator("input[name=seed]").fill("7")
    form.get_by_role("button", name="Submit generate job").click()
    page.wait_for_url(re.compile(r"/jobs/\d+$"))
    job_id = int(page.url.rsplit("/", 1)[1])

    expect(status_badge(page)).to_have_text("succeeded", timeout=SLOW)
    thumbnails = page.locator("#grid img")
    expect(thumbnails).to_have_count(64)
    page.locator("#grid").scroll_into_view_if_needed()
    page.wait_for_function(
        "() => [...document.querySelectorAll('#grid img')].every(img => img.complete && img.naturalWidth > 0)"
    )
    size = 28 if plugin == "gan" else 8
    assert page.evaluate("() => document.querySelector('#grid img').naturalWidth") == size

    thumbnails.nth(9).click()
    page.wait_for_url(f"{served.url}/jobs/{job_id}/results/9")
    page.wait_for_function("() => document.querySelector('img#full').naturalWidth > 0")
    metadata = page.locator("#png-metadata")
    expect(metadata).to_contain_text("seed")
    expect(metadata.locator("tr", has_text="index")).to_contain_text("9")
    assert page.locator("img#full").bounding_box()["width"] > 4 * size  # shown enlarged, not as a thumbnail
    page.close()


def test_cancel_a_running_job_from_its_page(served, browser):
    from playwright.sync_api import expect

    page = browser.new_page()
    page.goto(served.url + "/plugins/toy")
    form = page.locator("form[data-kind=generate]")
    form.locator("input[name=n]").fill("5000")
    form.locator("input[name=sleep]").fill("0.05")
    form.get_by_role("button", name="Submit generate job").click()
    page.wait_for_url(re.compile(r"/jobs/\d+$"))

    expect(status_badge(page)).to_have_text("running", timeout=SLOW)  # live: no reload needed
    page.get_by_role("button", name="Cancel").click()
    expect(status_badge(page)).to_have_text("cancelled", timeout=30_000)
    expect(page.locator("#error")).to_have_text("cancelled while running")
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    page.close()


def test_the_jobs_table_follows_new_jobs_without_a_reload(served, browser):
    from playwright.sync_api import expect

    page = browser.new_page()
    page.goto(served.url + "/jobs")
    page.evaluate("() => { window.notReloaded = true; }")
    job = httpx.post(served.url + "/api/jobs", json={"kind": "generate", "plugin": "toy", "params": {"n": 3}}).json()
    row = page.locator(f"tr[data-job='{job['id']}']")
    expect(row.locator("[data-status]")).to_have_text("succeeded", timeout=30_000)
    assert page.evaluate("() => window.notReloaded === true")
    page.select_option("select[name=status]", "cancelled")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tbody#job-rows tr[data-job]")).to_have_count(1)  # the job cancelled above
    page.close()


def test_beyond_loopback_nothing_without_the_token(tmp_path, browser):
    from playwright.sync_api import expect

    refused = subprocess.run(
        [sys.executable, "-m", "aigc.cli", "serve", "--host", "0.0.0.0", "--port", str(free_port())],
        env={k: v for k, v in env_for(temporary_settings(tmp_path / "a")).items() if k != "AIGC_API_TOKEN"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "set AIGC_API_TOKEN" in refused.stderr

    server = start_server(tmp_path / "b", "--host", "0.0.0.0", AIGC_API_TOKEN=TOKEN)
    try:
        assert httpx.get(server.url + "/api/jobs").status_code == 401
        assert httpx.get(server.url + "/api/jobs", headers={"Authorization": f"Bearer {TOKEN}"}).json() == []

        stranger = browser.new_context()
        page = stranger.new_page()
        page.goto(server.url + "/jobs")
        assert page.url.startswith(server.url + "/login")
        expect(page.locator("table.jobs")).to_have_count(0)
        page.fill("input[name=token]", "not-the-token")
        page.get_by_role("button", name="Log in").click()
        expect(page.locator(".error-line")).to_have_text("wrong token")
        page.fill("input[name=token]", TOKEN)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(server.url + "/jobs")
        expect(page.locator("table.jobs")).to_have_count(1)
        stranger.close()

        script = browser.new_context(extra_http_headers={"Authorization": f"Bearer {TOKEN}"})
        page = script.new_page()
        page.goto(server.url + "/plugins/toy")
        page.locator("form[data-kind=generate] input[name=n]").fill("2")
        page.get_by_role("button", name="Submit generate job").click()
        page.wait_for_url(re.compile(r"/jobs/\d+$"))
        expect(status_badge(page)).to_have_text("succeeded", timeout=30_000)
        script.close()
    finally:
        stop_server(server)
