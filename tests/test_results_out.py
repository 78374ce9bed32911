"""`aigc results ID --out PATH`: a path that cannot take the files is one line naming it and the system's
reason (exit 2), a folder with files in it is refused unless --force, and a failure half-way leaves
nothing behind."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import cli, env_for

from aigc.core.testing import run_job

WRITTEN = ["00000.png", "00001.png", "00002.png", "grid.png"]


@pytest.fixture
def job_1(sqlite_settings):
    """A store whose job 1 generated three toy images."""
    outcome = run_job("toy", "generate", {"n": 3, "seed": 1}, settings=sqlite_settings)
    assert outcome.job.id == 1 and len(outcome.items) == 3
    return sqlite_settings


def results_to(settings, out: Path | str, *extra: str) -> tuple[int, str]:
    done = cli(settings, "results", "1", "--out", str(out), *extra, env=env_for(settings, COLUMNS="500"))
    assert done.stdout == ""
    return done.returncode, done.stderr


@pytest.fixture
def read_only_folder(tmp_path) -> Iterator[Path]:
    """An empty folder nobody may write into: a read-only bind mount for root (whom modes do not stop)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    subprocess.run(["mount", "--bind", "-o", "ro", str(folder), str(folder)], check=True, capture_output=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_path_that_cannot_be_a_folder_is_one_line(job_1, tmp_path):
    file = tmp_path / "file.txt"
    file.write_text("mine")
    before = sorted(os.listdir(tmp_path))
    assert results_to(job_1, file) == (
        2,
        f"error: --out {file} exists and is not a folder; give a new or empty folder\n",
    )
    assert results_to(job_1, "/dev/null") == (
        2,
        "error: --out /dev/null exists and is not a folder; give a new or empty folder\n",
    )
    assert results_to(job_1, file / "sub") == (
        2,
        f"error: cannot write to {file / 'sub'}: Not a directory ({file})\n",
    )
    assert file.read_text() == "mine" and sorted(os.listdir(tmp_path)) == before


def test_a_read_only_folder_is_one_line_with_the_reason(job_1, read_only_folder):
    reason = "Read-only file system" if os.geteuid() == 0 else "Permission denied"
    for target in (read_only_folder, read_only_folder / "new"):
        assert results_to(job_1, target) == (2, f"error: cannot write to {target}: {reason}\n")
    assert list(read_only_folder.iterdir()) == []


def test_a_folder_with_files_is_refused_unless_forced(job_1, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    (folder / "00000.png").write_bytes(b"an older export")
    assert results_to(job_1, folder) == (
        2,
        f"error: --out {folder} is a folder that is not empty; give a new or empty folder, "
        "or add --force to replace the files of the same names in it\n",
    )
    assert (folder / "00000.png").read_bytes() == b"an older export"

    assert results_to(job_1, folder, "--force") == (
        0,
        f"wrote 3 results of job 1 to {folder} (replaced 1 files of the same names)\n",
    )
    assert sorted(os.listdir(folder)) == sorted(WRITTEN + ["notes.txt"])
    assert (folder / "notes.txt").read_text() == "keep me"
    assert (folder / "00000.png").read_bytes().startswith(b"\x89PNG")


def test_new_and_empty_folders_are_written(job_1, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    for target in (empty, tmp_path / "new" / "deeper"):
        assert results_to(job_1, target) == (0, f"wrote 3 results of job 1 to {target}\n")
        assert sorted(os.listdir(target)) == WRITTEN  # no staging folder left behind
        assert oct(target.stat().st_mode & 0o777) == oct(0o777 & ~_umask())


def test_a_failure_half_way_leaves_nothing_behind(empty_postgres_url, tmp_path):
    # The store on PostgreSQL, so that only the export writes local files; each file may hold 12 kB: the
    # 64 x 64 noise images fit, their contact sheet does not, so the write fails after three files.
    settings = _settings_for(empty_postgres_url, tmp_path)
    outcome = run_job("toy", "generate", {"n": 3, "size": 64, "seed": 1}, settings=settings)
    assert outcome.job.id == 1
    target = tmp_path / "exports" / "run"
    done = subprocess.run(
        [sys.executable, "-m", "aigc.cli", "results", "1", "--out", str(target)],
        env=env_for(settings, PYTHONDONTWRITEBYTECODE="1"),
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (12_000, 12_000)),
    )
    assert (done.returncode, done.stderr) == (2, f"error: cannot write to {target}: File too large\n")
    assert not (tmp_path / "exports").exists()  # the folders made on the way are gone too


def _settings_for(database_url: str, tmp_path: Path):
    from aigc.core.testing import temporary_settings

    return replace(temporary_settings(tmp_path / "store"), database_url=database_url)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
