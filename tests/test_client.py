"""`aigc.core.client.Client` against a real `aigc serve` subprocess whose jobs run embedded, for real."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from server_fixtures import serving

from aigc.core.client import Client
from aigc.core.errors import NotAllowed, OverLimit, ServerUnreachable, Unauthorized, UsageError
from aigc.core.store import Store
from aigc.core.tokens import create

DOC = Path(__file__).parent.parent / "docs" / "client.md"


@pytest.fixture
def served(settings):
    with serving(settings) as server:
        yield server


def test_the_example_of_docs_client_md_runs(served, tmp_path):
    example = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert example is not None
    env = {"AIGC_SERVER_URL": served.url, "AIGC_TOKEN": served.token, "PATH": "/usr/bin:/bin"}
    ran = subprocess.run(
        [sys.executable, "-c", example.group(1)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert "'gan'" in lines[0] and re.fullmatch(r"submitted job \d+ by token alice", lines[1])
    assert re.fullmatch(r"succeeded after \d+ pushed updates", lines[2])
    assert lines[3] == "16 images of (28, 28)"
    assert lines[4] == "['00015.png', 'grid-00016.png']"
    assert len(list((tmp_path / "digits").glob("*.png"))) == 17


def test_submit_wait_results_download_and_cancel(served, settings, tmp_path):
    with Client(served.url, served.token) as aigc:
        job = aigc.submit("generate", "toy", n=3, seed=5)
        updates: list[dict] = []
        done = aigc.wait(job["id"], on_progress=updates.append)
        assert done["status"] == "succeeded" and updates[-1] == done and done["token"] == "alice"
        images = aigc.results(done)
        assert [im.size for im in images] == [(8, 8)] * 3
        assert [i["index"] for i in aigc.result_infos(done, offset=1, limit=5)] == [1, 2]
        written = aigc.download(done, tmp_path / "out")
        assert sorted(p.name for p in written) == ["00000.png", "00001.png", "00002.png"]
        assert (tmp_path / "out" / "00001.png").read_bytes() == aigc.result_bytes(done, 1)
        assert aigc.jobs(limit=1)[0]["id"] == done["id"]
        assert aigc.job(done)["status"] == "succeeded"

        slow = aigc.submit("generate", "toy", n=100, sleep=0.2)
        assert aigc.cancel(slow)["status"] in ("queued", "running", "cancelled")
        assert aigc.wait(slow, timeout_s=60)["status"] == "cancelled"

        texts = aigc.results(aigc.wait(aigc.submit("generate", "chatter", prompt="hi", n=2)))
        assert all(isinstance(t, str) for t in texts) and len(texts) == 2
        assert {p["name"] for p in aigc.plugins()} >= {"toy", "gan"}
        assert "generate" in aigc.plugin("toy")["params"]
        assert any(m["plugin"] == "gan" for m in aigc.models())


def test_errors_are_typed_one_liners(served, settings):
    with Client(served.url, served.token) as aigc:
        with pytest.raises(UsageError, match=r"^no job with id 424242$"):
            aigc.job(424242)
        with pytest.raises(UsageError) as bad:
            aigc.submit("generate", "toy", n=0)
        assert "n" in str(bad.value) and "\n" not in str(bad.value)
        with pytest.raises(UsageError, match="unknown plugin 'nope'"):
            aigc.submit("generate", "nope")
        other = create(Store(settings), "bob", max_n=2)
        theirs = aigc.submit("generate", "toy", n=50, sleep=0.2)
    with Client(served.url, other) as bob:
        with pytest.raises(NotAllowed, match="token 'bob' may cancel only its own jobs"):
            bob.cancel(theirs)
        with pytest.raises(OverLimit, match="over token 'bob''s limit of 2") as over:
            bob.submit("generate", "toy", n=3)
        assert over.value.status == 413
    with Client(served.url, "aigc_wrong") as stranger, pytest.raises(Unauthorized, match="refused the token"):
        stranger.jobs()
    with Client("http://127.0.0.1:9", "x") as nowhere, pytest.raises(ServerUnreachable, match="cannot reach"):
        nowhere.plugins()
    Client(served.url, served.token).cancel(theirs)


def test_the_client_does_not_import_torch():
    code = "import sys, aigc.core.client; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_sweeps_through_the_client(served):
    with Client(served.url, served.token) as aigc:
        with pytest.raises(UsageError, match="size"):  # one bad value: nothing stored
            aigc.sweep("generate", "toy", n=[1], size=[8, -3])
        assert aigc.sweeps() == []
        made = aigc.sweep("generate", "toy", n=[1, 2], size="8,9", max_parallel=1)
        assert len(made["jobs"]) == 4
        assert [aigc.wait(job, timeout_s=120)["status"] for job in made["jobs"]] == ["succeeded"] * 4
        assert [s["id"] for s in aigc.sweeps()] == [made["id"]]
        table = aigc.sweep_table(made["id"])
        assert sorted((p["params"]["n"], p["params"]["size"]) for p in table["points"]) == [
            (1, 8),
            (1, 9),
            (2, 8),
            (2, 9),
        ]
        aigc.cancel_sweep(made["id"])  # nothing left to cancel: the finished jobs stay as they ended
        assert [aigc.job(job)["status"] for job in made["jobs"]] == ["succeeded"] * 4
