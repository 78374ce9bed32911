"""Sweeps: grid and random points, seeds, chained jobs on each trained model, validation of every job
before any is stored, the table of points, cancel; embedded runs in order in the process."""

from __future__ import annotations

import json

import pytest
from conftest import cli

from aigc.core.errors import InvalidParams, UsageError
from aigc.core.plugin import JobKind
from aigc.core.store import Store, queries
from aigc.core.sweep_results import sweep_table
from aigc.core.sweep_spec import Range, draw, grid, parse_axes
from aigc.core.sweeps import Chained, SweepRequest, cancel_sweep, create_sweep, start_sweep


def test_axes_lists_ranges_and_escaped_commas():
    axes = parse_axes(["lr=1e-4,2e-4", "b=int:32..256", "lr_d=log:1e-4..1e-2", "p=0.1..0.5", "s=a\\,b,c", "j=[1,2]"])
    assert axes["lr"] == ["1e-4", "2e-4"]
    assert axes["b"] == Range("int", 32, 256) and axes["lr_d"] == Range("log", 1e-4, 1e-2)
    assert axes["p"] == Range("float", 0.1, 0.5)
    assert axes["s"] == ["a,b", "c"] and axes["j"] == [[1, 2]]
    assert grid({"a": ["1", "2"], "b": ["x", "y"]}) == [
        {"a": "1", "b": "x"}, {"a": "1", "b": "y"}, {"a": "2", "b": "x"}, {"a": "2", "b": "y"},
    ]  # fmt: skip
    points = draw({"b": Range("int", 32, 256), "lr": Range("log", 1e-4, 1e-2), "c": ["u", "v"]}, 200, seed=5)
    assert points == draw({"b": Range("int", 32, 256), "lr": Range("log", 1e-4, 1e-2), "c": ["u", "v"]}, 200, seed=5)
    assert all(32 <= p["b"] <= 256 and isinstance(p["b"], int) for p in points)
    assert all(1e-4 <= p["lr"] <= 1e-2 for p in points)
    assert sum(p["lr"] < 1e-3 for p in points) > 60  # log-uniform: half the draws below the geometric middle
    assert {p["c"] for p in points} == {"u", "v"}


@pytest.mark.parametrize(
    "pairs, message",
    [
        (["lr=log:0..1"], "param lr='log:0..1': a log range needs bounds above 0, as in lr=log:1e-4..1e-2"),
        (["b=int:1.5..4"], "param b='int:1.5..4': an int range needs whole bounds, as in b=int:32..256"),
        (["b=3..1"], "param b='3..1': a range goes from low to high, as in b=1..2"),
    ],
)
def test_malformed_ranges_are_one_line(pairs, message):
    with pytest.raises(UsageError) as caught:
        parse_axes(pairs)
    assert str(caught.value) == message


def _request(**fields) -> SweepRequest:
    fields.setdefault("kind", JobKind.train)
    fields.setdefault("plugin", "toy")
    return SweepRequest(**fields)


def _job_count(settings) -> int:
    with Store(settings).transaction() as session:
        return sum(queries.status_counts(session).values())


def test_one_bad_value_stores_nothing(settings):
    store = Store(settings)
    with pytest.raises(InvalidParams) as caught:
        create_sweep(store, _request(axes=parse_axes(["epochs=1,2,0,3", "sleep=0"])))
    assert str(caught.value).startswith("invalid param 'epochs' for toy train: ")
    assert "(got '0')" in str(caught.value)
    with pytest.raises(UsageError, match="is a range; draw from ranges with --random N"):
        create_sweep(store, _request(axes=parse_axes(["epochs=int:1..3"])))
    with pytest.raises(UsageError, match="toy generate jobs read no model"):
        create_sweep(store, _request(axes=parse_axes(["epochs=1"]), then=(Chained(JobKind.generate),)))
    assert _job_count(settings) == 0


def test_grid_with_seeds_and_a_chained_evaluate_runs_in_order_here(settings):
    store = Store(settings)
    request = _request(axes=parse_axes(["epochs=1,2", "sleep=0"]), seeds=2, then=(Chained(JobKind.evaluate),))
    sweep_id, jobs = create_sweep(store, request)
    trains = [j for j in jobs if j.kind == "train"]
    evaluates = [j for j in jobs if j.kind == "evaluate"]
    assert [(j.params["epochs"], j.seed) for j in trains] == [(1, 0), (1, 1), (2, 0), (2, 1)]
    assert [j.params["model"] for j in evaluates] == [f"from:{t.id}" for t in trains]
    ran: list[int] = []

    def run(job_id: int) -> None:
        from aigc.core.runner import run_job

        ran.append(job_id)
        run_job(job_id, settings=settings)

    assert start_sweep(store, jobs, run_here=run) is False
    assert ran == [j.id for j in jobs]  # trains first (ids order), each evaluate after its train
    table = sweep_table(store, sweep_id, by="weight_sum", highest=True)
    assert [p.job.id for p in table.points][:2] == [trains[2].id, trains[3].id]
    assert table.points[0].best and not any(p.best for p in table.points[1:])
    assert table.points[0].metrics["weight_sum"] == 8.0  # 4 weights, each +1 per epoch, read by the evaluate
    assert table.points[0].source.startswith("evaluate job ")
    assert table.points[0].params == {"epochs": 2, "seed": 0}
    with pytest.raises(UsageError, match="no point of sweep .* has metric 'nope'; metrics: "):
        sweep_table(store, sweep_id, by="nope")


def test_random_draw_is_reproducible_and_recorded(sqlite_settings):
    store = Store(sqlite_settings)
    request = _request(axes=parse_axes(["epochs=int:1..50", "sleep=0..0.5"]), random=5, random_seed=11)
    sweep_id, jobs = create_sweep(store, request)
    _, again = create_sweep(store, request)
    assert [j.params["epochs"] for j in jobs] == [j.params["epochs"] for j in again]
    with store.transaction() as session:
        from aigc.core.store.sweeps import get_sweep

        spec = get_sweep(session, sweep_id).spec
    assert spec["mode"] == "random" and spec["random_seed"] == 11 and spec["swept"] == ["epochs", "sleep"]


def test_cancel_ends_queued_jobs_and_their_dependents(settings):
    store = Store(settings)
    sweep_id, jobs = create_sweep(
        store, _request(axes=parse_axes(["epochs=1,2"]), then=(Chained(JobKind.evaluate),)), check_here=False
    )
    assert cancel_sweep(store, sweep_id) == {"cancelled": 4, "stopping": 0}
    with store.transaction() as session:
        assert {queries.get_job(session, j.id).status for j in jobs} == {"cancelled"}


def test_cli_sweep_then_show_and_list(sqlite_settings):
    done = cli(
        sqlite_settings, "sweep", "train", "--plugin", "toy", "-p", "epochs=1,3", "--then", "evaluate", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert [p["params"] for p in shown["points"]] == [{"epochs": 1}, {"epochs": 3}]
    assert [p["chained"][0]["status"] for p in shown["points"]] == ["succeeded", "succeeded"]
    table = cli(sqlite_settings, "sweeps", "show", str(shown["id"]), "--by", "weight_sum", "--highest")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["job", "status", "epochs", "weight_sum"]
    assert lines[1].split()[0] == "*" and lines[1].split()[-1] == "12"
    assert "best by weight_sum" in table.stderr
    listed = json.loads(cli(sqlite_settings, "sweeps", "list", "--json").stdout)
    assert listed[0]["jobs"] == {"succeeded": 4}


@pytest.mark.parametrize(
    "args, message",
    [
        (["-p", "epochs=1,x"], "error: invalid param 'epochs' for toy train: "),
        (
            ["-p", "epochs=1", "--then", "bake"],
            "error: --then takes a job kind (train, generate, evaluate), got 'bake'",
        ),
        (
            ["-p", "epochs=1", "--then", "evaluate", "-p", "colour=red"],
            "error: unknown param 'colour' for toy evaluate",
        ),
        (["-p", "epochs=1", "--seeds", "2", "-p", "seed=1,2"], "error: give the seeds either as -p seed=... or"),
    ],
)
def test_cli_bad_sweeps_are_one_line_and_store_nothing(sqlite_settings, args, message):
    done = cli(sqlite_settings, "sweep", "train", "--plugin", "toy", *args)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith(message), done.stderr
    assert _job_count(sqlite_settings) == 0


def test_ctrl_c_cancels_the_running_job_and_the_rest_of_an_embedded_sweep(sqlite_settings):
    import signal
    import subprocess
    import sys
    import time

    from conftest import env_for

    runner = subprocess.Popen(
        [sys.executable, "-m", "aigc.cli", "sweep", "train", "--plugin", "toy", "-p", "epochs=200", "-p", "sleep=0.05",
         "--seeds", "3"],
        env=env_for(sqlite_settings), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with Store(sqlite_settings).transaction() as session:
            if any(j.status == "running" for j in queries.list_jobs(session)):
                break
        time.sleep(0.05)
    runner.send_signal(signal.SIGINT)
    code, stderr = runner.wait(timeout=60), runner.stderr.read()
    assert code == 130 and stderr.strip().endswith("error: interrupted"), stderr
    with Store(sqlite_settings).transaction() as session:
        jobs = sorted(queries.list_jobs(session), key=lambda j: j.id)
    assert [(j.status, j.error) for j in jobs] == [
        ("cancelled", "interrupted (Ctrl-C)"),
        ("cancelled", f"cancelled with sweep {jobs[0].sweep_id}"),
        ("cancelled", f"cancelled with sweep {jobs[0].sweep_id}"),
    ]


def test_max_parallel_holds_against_claims_at_the_same_moment(settings):
    import threading

    from aigc.core.store.lifecycle import LeaseOwner, claim_job

    store = Store(settings)
    _, jobs = create_sweep(store, _request(axes=parse_axes(["epochs=1"]), seeds=8, max_parallel=3), check_here=False)
    barrier = threading.Barrier(len(jobs))
    claims: list[object] = []

    def claim(job_id: int) -> None:
        barrier.wait()
        claims.append(claim_job(store, job_id, LeaseOwner.new(), 30))

    threads = [threading.Thread(target=claim, args=(job.id,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(c is not None for c in claims) == 3
