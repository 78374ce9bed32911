"""Job and model ids on the command line: ASCII digits only, and the same bound as the API (the largest id
the store can hold). Every command that takes an id goes through one parser."""

from __future__ import annotations

import json

import pytest
from conftest import cli

from aigc.core.errors import MalformedId
from aigc.core.ids import parse_id
from aigc.core.jobs import parse_job_id
from aigc.core.store import MAX_ID
from aigc.core.testing import run_job

ACCEPTED = "a positive integer such as 42, in ASCII digits, at most 2147483647"


def test_parse_id_takes_ascii_digits_up_to_the_store_bound():
    assert parse_job_id(" 42 ") == 42 and parse_job_id(MAX_ID) == MAX_ID and parse_job_id("007") == 7
    for raw in ("abc", "-3", "4.2", "", "²", "١", "１", "1_000", "+5", "0x10"):
        with pytest.raises(MalformedId, match=f"^malformed job id .*; a job id is {ACCEPTED}$"):
            parse_job_id(raw)
    for raw in ("0", str(MAX_ID + 1), "9" * 20, "9" * 5000):  # 5,000 digits: more than int() reads
        with pytest.raises(MalformedId, match=f"^job id .* is out of range; a job id is {ACCEPTED}$"):
            parse_job_id(raw)
    with pytest.raises(MalformedId, match=r"^malformed model id '1\\n2'; a model id is"):
        parse_id("1\n2", "model")  # on one line
    with pytest.raises(MalformedId, match=r"^job id '9{24}\.\.\.' is out of range"):
        parse_job_id("9" * 100)  # echoed short


BAD_IDS = {
    "99999999999999999999": "error: job id '99999999999999999999' is out of range; a job id is " + ACCEPTED,
    "²": f"error: malformed job id '²'; a job id is {ACCEPTED}",
    "١": f"error: malformed job id '١'; a job id is {ACCEPTED}",  # int('١') is 1: job 1 must not be shown
}
MODEL_ACCEPTED = "a number from `aigc models` (1 to 2147483647) or 'default'"
BAD_MODEL_IDS = {
    "99999999999999999999": f"error: model id '99999999999999999999' is out of range; a model id is {MODEL_ACCEPTED}",
    "²": f"error: malformed model id '²'; a model id is {MODEL_ACCEPTED}",
    "١": f"error: malformed model id '١'; a model id is {MODEL_ACCEPTED}",
}


def aigc(capsys, monkeypatch, settings, *args: str) -> tuple[int, str, str]:
    """`aigc ARGS` in this process through the console script's `main`, against `settings`' store."""
    from aigc.cli.main import main

    monkeypatch.setenv("AIGC_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("AIGC_ARTIFACTS", str(settings.artifacts))
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    captured = capsys.readouterr()
    return int(exit_.value.code or 0), captured.out, captured.err


@pytest.fixture
def store_with_job_and_model_1(tmp_path):
    """A store whose job 1 trained toy model 1: an id read as 1 would find something."""
    outcome = run_job("toy", "train", {"epochs": 1}, tmp_path)
    assert outcome.job.id == 1 and [m.id for m in outcome.models] == [1]
    return outcome.settings


@pytest.mark.parametrize("raw", list(BAD_IDS))
def test_every_command_taking_a_job_id_refuses_it_in_one_line(capsys, monkeypatch, store_with_job_and_model_1, raw):
    settings = store_with_job_and_model_1
    for command in (["jobs", "show", raw], ["jobs", "cancel", raw], ["jobs", "wait", raw], ["results", raw, "--json"]):
        code, out, err = aigc(capsys, monkeypatch, settings, *command)
        assert (code, out, err) == (2, "", BAD_IDS[raw] + "\n"), command


@pytest.mark.parametrize("raw", list(BAD_MODEL_IDS))
def test_every_command_taking_a_model_id_refuses_it_in_one_line(
    capsys, monkeypatch, store_with_job_and_model_1, tmp_path, raw
):
    settings = store_with_job_and_model_1
    for command in (
        ["models", "export", raw, str(tmp_path / "out.safetensors")],
        ["models", "export", raw, str(tmp_path / "out.safetensors"), "--plugin", "toy"],
        ["submit", "evaluate", "--plugin", "toy", "--model", raw],
        ["submit", "evaluate", "--plugin", "toy", "-p", f"model={raw}"],
    ):
        code, out, err = aigc(capsys, monkeypatch, settings, *command)
        assert (code, out, err) == (2, "", BAD_MODEL_IDS[raw] + "\n"), command
    assert not (tmp_path / "out.safetensors").exists()
    code, out, _ = aigc(capsys, monkeypatch, settings, "jobs", "list", "--json")
    assert [job["id"] for job in json.loads(out)] == [1]  # no job was stored


def test_an_id_beyond_the_store_is_refused_on_every_database(settings):
    for command in ("show", "cancel", "wait"):
        done = cli(settings, "jobs", command, "99999999999")
        assert done.returncode == 2, command
        assert done.stderr == f"error: job id '99999999999' is out of range; a job id is {ACCEPTED}\n", command
