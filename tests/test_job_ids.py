"""Job ids on the command line and in the API share one bound, the largest id the store can hold."""

from __future__ import annotations

import pytest
from conftest import cli

from aigc.core.errors import MalformedJobId, UnknownJob
from aigc.core.jobs import parse_job_id
from aigc.core.store import MAX_ID


def test_parse_job_id():
    assert parse_job_id(" 42 ") == 42 and parse_job_id(MAX_ID) == MAX_ID
    for raw in ("abc", "-3", "0", "4.2", ""):
        with pytest.raises(MalformedJobId):
            parse_job_id(raw)
    with pytest.raises(UnknownJob, match=f"^no job with id {MAX_ID + 1}$"):
        parse_job_id(str(MAX_ID + 1))


def test_an_id_beyond_the_store_is_an_unknown_job_on_every_database(settings):
    for command in ("show", "cancel", "wait"):
        done = cli(settings, "jobs", command, "99999999999")
        assert (done.returncode, done.stderr) == (2, "error: no job with id 99999999999\n"), command
