"""A SQLite store that is damaged, or a file that is not a store: one line naming the file and what to do,
exit 2, and never a fresh store started over an existing file."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import cli, env_for

from aigc.core.testing import run_job

DAMAGED = "restore it from a backup, or move it away to start a new store"
NOT_A_STORE = "move it away or point AIGC_DATABASE_URL at another file"


@pytest.fixture
def store_file(sqlite_settings) -> Path:
    """A SQLite store holding one finished job with 40 results, checkpointed into its one file."""
    run_job("toy", "generate", {"n": 40, "size": 16, "seed": 1}, settings=sqlite_settings)
    path = Path(sqlite_settings.database_url.removeprefix("sqlite:///"))
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def copy_to(store_file: Path, name: str) -> Path:
    copy = store_file.with_name(name)
    shutil.copyfile(store_file, copy)
    return copy


def run(sqlite_settings, database: Path | str, *args: str) -> tuple[int, str]:
    settings = replace(sqlite_settings, database_url=f"sqlite:///{database}")
    done = cli(settings, *args, env=env_for(settings, COLUMNS="500"))
    return done.returncode, done.stderr


def zero_page_of(path: Path, table: str) -> int:
    """Overwrite with zeros the 4 KiB page at the root of `table` (a page in the middle of the file)."""
    with sqlite3.connect(path) as conn:
        page = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    assert 1 < page < path.stat().st_size // size
    with open(path, "r+b") as handle:
        handle.seek((page - 1) * size)
        handle.write(bytes(size))
    return page


def test_a_truncated_store_is_one_line(sqlite_settings, store_file):
    damaged = copy_to(store_file, "truncated.db")
    os.truncate(damaged, damaged.stat().st_size // 2)
    expected = f"error: database {damaged} is damaged (database disk image is malformed); {DAMAGED}\n"
    for command in (["jobs", "list"], ["jobs", "show", "1"], ["results", "1", "--json"], ["db", "upgrade"]):
        assert run(sqlite_settings, damaged, *command) == (2, expected), command


def test_a_zeroed_page_is_one_line(sqlite_settings, store_file):
    jobs = copy_to(store_file, "jobs-zeroed.db")
    zero_page_of(jobs, "jobs")
    expected = f"error: database {jobs} is damaged (database disk image is malformed); {DAMAGED}\n"
    assert run(sqlite_settings, jobs, "jobs", "list") == (2, expected)
    assert run(sqlite_settings, jobs, "submit", "generate", "--plugin", "toy") == (2, expected)

    results = copy_to(store_file, "results-zeroed.db")
    zero_page_of(results, "results")
    expected = f"error: database {results} is damaged (database disk image is malformed); {DAMAGED}\n"
    assert run(sqlite_settings, results, "jobs", "list")[0] == 0  # the jobs are intact
    assert run(sqlite_settings, results, "results", "1", "--json") == (2, expected)


def test_a_file_that_is_not_a_database_is_one_line(sqlite_settings, tmp_path):
    noise = tmp_path / "noise.db"
    noise.write_bytes(os.urandom(8192))
    assert run(sqlite_settings, noise, "jobs", "list") == (
        2,
        f"error: database {noise} is not an aigc store (file is not a database); {NOT_A_STORE}\n",
    )
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE contacts (name TEXT)")
    assert run(sqlite_settings, other, "jobs", "list") == (
        2,
        f"error: database {other} is not an aigc store (it holds other tables); "
        "point AIGC_DATABASE_URL at another file\n",
    )
    with sqlite3.connect(other) as conn:  # left as it was: no aigc tables added
        assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["contacts"]


def test_an_empty_file_is_refused_not_started_over(sqlite_settings, tmp_path):
    empty = tmp_path / "empty.db"
    empty.touch()
    expected = (
        f"error: database {empty} is an empty file, not an aigc store; delete it to start a new store there, "
        "or point AIGC_DATABASE_URL at another file\n"
    )
    for command in (["jobs", "list"], ["submit", "generate", "--plugin", "toy"], ["db", "upgrade"]):
        assert run(sqlite_settings, empty, *command) == (2, expected), command
    assert empty.stat().st_size == 0


@pytest.mark.parametrize("path", ["/dev/null", "FOLDER"])
def test_a_path_that_is_not_a_regular_file_is_one_line(sqlite_settings, tmp_path, path):
    database = tmp_path if path == "FOLDER" else Path(path)
    assert run(sqlite_settings, database, "jobs", "list") == (
        2,
        f"error: database {database} is not a regular file; point AIGC_DATABASE_URL at one (sqlite:///PATH), "
        "or unset it for the default store\n",
    )
    assert not Path(f"{database}.migrate.lock").exists() and not Path(f"{database}-journal").exists()
    file = tmp_path / "file.txt"
    file.write_text("mine")
    assert run(sqlite_settings, file / "aigc.db", "jobs", "list") == (
        2,
        f"error: cannot use database {file / 'aigc.db'}: {file} is not a folder\n",
    )


def test_processes_creating_a_new_store_at_once_all_get_it(sqlite_settings, tmp_path):
    # A new store is never seen empty by another process: it gets its header under the migration lock.
    database = tmp_path / "new" / "aigc.db"
    env = env_for(replace(sqlite_settings, database_url=f"sqlite:///{database}"))
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "aigc.cli", "jobs", "list", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert (process.returncode, out.strip(), err) == (0, "[]", "")
