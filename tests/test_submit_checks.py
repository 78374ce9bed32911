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
