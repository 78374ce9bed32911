"""A sweep on real worker processes: --max-parallel holds however many processes are free, and every job
of the sweep still runs once."""

from __future__ import annotations

from worker_fixtures import Cluster

from aigc.core.plugin import JobKind
from aigc.core.store import Store
from aigc.core.sweep_spec import parse_axes
from aigc.core.sweeps import SweepRequest, create_sweep, start_sweep


def _most_at_once(spans: list[tuple[float, float]]) -> int:
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = most = 0
    for _, step in events:
        running += step
        most = max(most, running)
    return most


def test_max_parallel_caps_a_sweep_on_four_free_processes(cluster: Cluster) -> None:
    cluster.start("--gpus", "none", "--concurrency", "4", name="w")
    cluster.wait_ready(4)
    store = Store(cluster.settings)
    request = SweepRequest(
        kind=JobKind.generate,
        plugin="wtoy",
        axes=parse_axes(["n=3", "sleep=0.3", "images=false", f"log={cluster.runlog}"]),
        seeds=6,
        max_parallel=2,
    )
    sweep_id, jobs = create_sweep(store, request)
    start_sweep(store, jobs)
    assert sum(cluster.job(j.id).dispatched_at is not None for j in jobs) == 2  # the others wait for a slot
    for job in jobs:
        assert cluster.wait_status(job.id, "succeeded", "failed", timeout=120).status == "succeeded"
    spans = []
    for job in jobs:
        runs = cluster.runs(job.id)
        assert [run[0] for run in runs] == ["start", "end"]
        spans.append((float(runs[0][-2]), float(runs[1][-2])))
    assert _most_at_once(spans) == 2


def test_cli_sweep_on_workers_returns_at_once_or_waits_for_the_table(cluster: Cluster) -> None:
    import json
    import subprocess
    import sys

    cluster.start("--gpus", "none", "--concurrency", "2", name="w")
    args = [
        sys.executable,
        "-m",
        "aigc.cli",
        "sweep",
        "generate",
        "--plugin",
        "wtoy",
        "-p",
        "n=1,2",
        "-p",
        "images=false",
    ]
    queued = subprocess.run(args, env=cluster.env, capture_output=True, text=True, timeout=120)
    assert queued.returncode == 0, queued.stderr
    sweep_id = int(queued.stdout.strip())
    assert f"sweep {sweep_id}: 2 jobs queued; follow it with: aigc sweeps show {sweep_id}" in queued.stderr
    waited = subprocess.run(
        [*args, "--seeds", "2", "--wait", "--json"], env=cluster.env, capture_output=True, text=True, timeout=120
    )
    assert waited.returncode == 0, waited.stderr
    shown = json.loads(waited.stdout)
    assert shown["jobs"] == {"succeeded": 4}
    assert [p["params"] for p in shown["points"]] == [
        {"n": 1, "seed": 0}, {"n": 1, "seed": 1}, {"n": 2, "seed": 0}, {"n": 2, "seed": 1},
    ]  # fmt: skip
