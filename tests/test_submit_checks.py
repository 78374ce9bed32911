"""Submit refuses what it can judge before anything is stored: text that is not UTF-8, files that are not
there, sizes that do not fit, a device this machine lacks; and every command-line mistake is one line."""

from __future__ import annotations

import pytest
from conftest import cli

from aigc.core.store import Store, queries


def job_count(settings) -> int:
    with Store(settings).transaction() as session:
        return len(queries.list_jobs(session, limit=10_000))


def one_line(done, code: int, message: str) -> None:
    assert done.returncode == code, done.stderr
    assert done.stderr.strip() == message, done.stderr


# -- text that is not UTF-8 ------------------------------------------------------------------------
@pytest.mark.parametrize("plugin", ["chatter", "text"])
def test_a_prompt_that_is_not_utf8_is_refused_at_submit(sqlite_settings, plugin):
    # The shell passes bytes; Python hands undecodable ones over as surrogate escapes (\udcff for 0xff).
    done = cli(sqlite_settings, "submit", "generate", "--plugin", plugin, "--prompt", "ROMEO \udcff\udcfe")
    one_line(
        done,
        2,
        f"error: invalid param 'prompt' for {plugin} generate: not UTF-8 text "
        "(byte 0xff at character 6); give UTF-8 text",
    )
    assert job_count(sqlite_settings) == 0


def test_any_string_param_that_is_not_utf8_is_refused(sqlite_settings):
    done = cli(
        sqlite_settings, "submit", "generate", "--plugin", "text", "-p", "prompt=hi", "-p", 'stop=["ok", "\udce9"]'
    )
    one_line(
        done,
        2,
        "error: invalid param 'stop.1' for text generate: not UTF-8 text (byte 0xe9 at character 0); give UTF-8 text",
    )
    assert job_count(sqlite_settings) == 0


# -- command-line mistakes that Click finds --------------------------------------------------------
USAGE_ERRORS = [
    (
        ["submit", "generate", "--plugin", "gan", "--priority", "10"],
        "error: invalid value for '--priority': Input should be less than or equal to 9 "
        "(see 'aigc submit generate --help')",
    ),
    (["jobs", "show", "-1"], "error: no such option: -1 (see 'aigc jobs show --help')"),
    (["jobs", "list", "--bogus"], "error: no such option: --bogus (see 'aigc jobs list --help')"),
    (["submit", "generate"], "error: missing option '--plugin' (see 'aigc submit generate --help')"),
    (["jobs", "shw"], "error: no such command 'shw'. Did you mean 'show'? (see 'aigc jobs --help')"),
    (["jobs", "list", "--status"], "error: option '--status' requires an argument"),
]


@pytest.mark.parametrize(("args", "message"), USAGE_ERRORS, ids=[" ".join(a) for a, _ in USAGE_ERRORS])
def test_usage_errors_are_one_line_like_ours(sqlite_settings, args, message):
    one_line(cli(sqlite_settings, *args), 2, message)
    assert job_count(sqlite_settings) == 0


def test_a_group_without_a_command_still_shows_its_help(sqlite_settings):
    done = cli(sqlite_settings, "jobs")
    assert "Usage: aigc jobs" in done.stdout + done.stderr


# -- checked when it can be checked ----------------------------------------------------------------
def test_what_the_embedded_run_would_trip_on_is_refused_at_submit(sqlite_settings, mnist_dir, tmp_path):
    missing = tmp_path / "nowhere"
    cases = [
        (
            ["submit", "train", "--plugin", "gan", "-p", f"data={missing}"],
            f"error: data {missing}: no such file or folder; expected an MNIST folder or images IDX file",
        ),
        (
            ["submit", "train", "--plugin", "vae", "-p", f"data={mnist_dir}", "-p", "holdout=5000"],
            f"error: test=1000 and holdout=5000 leave nothing to train on: {mnist_dir} holds 2000 digits; "
            "use test + holdout of at most 1999",
        ),
        (
            ["submit", "evaluate", "--plugin", "gan", "-p", f"data={mnist_dir}", "-p", "holdout=2000"],
            "error: holdout 2000 leaves none of the 2000 digits for the real sample",
        ),
        (
            ["submit", "generate", "--plugin", "text", "-p", f"prompts_file={missing}"],
            f"error: prompts_file {missing} not found",
        ),
        (
            # The bundled model reads 128 tokens, one per character.
            ["submit", "generate", "--plugin", "text", "--prompt", "x" * 200],
            "error: prompt 0 is 200 tokens but the model reads at most 128; shorten it to under 128 tokens",
        ),
        (
            ["submit", "train", "--plugin", "text", "-p", f"corpus={missing}.txt"],
            f"error: corpus {missing}.txt not found; give a text file, a folder of .txt files or a glob",
        ),
    ]
    for args, message in cases:
        one_line(cli(sqlite_settings, *args), 2, message)
    assert job_count(sqlite_settings) == 0


def test_a_device_this_machine_lacks_is_refused_at_submit(sqlite_settings):
    import torch

    count = torch.cuda.device_count()
    done = cli(sqlite_settings, "submit", "generate", "--plugin", "toy", "-p", "device=cuda:99")
    assert done.returncode == 2
    has = "1 CUDA device" if count == 1 else f"{count} CUDA devices"
    assert done.stderr.startswith(f"error: device cuda:99 is not available: this machine has {has}; use "), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert job_count(sqlite_settings) == 0


def test_a_queued_job_fails_on_its_worker_with_one_line_naming_the_param(tmp_path):
    from aigc.core.testing import run_job

    # Stored unchecked, as a job for a broker is: the machine that runs it checks it, before the plugin.
    outcome = run_job("toy", "generate", {"device": "cuda:99"}, tmp_path, check_here=False)
    assert outcome.job.status == "failed" and outcome.results == []
    assert outcome.job.error.startswith("device cuda:99 is not available: this machine has ")
    assert "\n" not in outcome.job.error
