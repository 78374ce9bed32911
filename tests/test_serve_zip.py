"""The zip `aigc serve` streams a job's results in (cli/serve/zipstream.py), read back by Python's zipfile
and by Info-ZIP's `unzip`, past the 65,535 files a zip holds without its zip64 records."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from datetime import datetime
from pathlib import Path

import pytest

from aigc.cli.serve.zipstream import StreamedZip, crc_of

WHEN = datetime(2026, 3, 4, 5, 6, 8)


def written(path: Path, files: int) -> Path:
    """A zip of `files` small files, then one added as header + bytes (as the manifest is)."""
    with path.open("wb") as out, StreamedZip() as archive:
        for i in range(files):
            out.write(archive.file(f"{i:05d}.txt", f"file {i}\n".encode(), WHEN))
        last = b'{"files": %d}\n' % files
        with (path.parent / "manifest").open("w+b") as spool:
            spool.write(last)
            out.write(archive.header("results.json", len(last), crc_of(spool), WHEN) + last)
        for chunk in archive.end(chunk=4096):  # the directory in several pieces
            out.write(chunk)
    return path


@pytest.mark.parametrize("files", [0, 3, 70_000])
def test_a_streamed_zip_reads_back_whole(tmp_path, files):
    path = written(tmp_path / "results.zip", files)
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None  # every file's CRC checks
        infos = archive.infolist()
        assert len(infos) == files + 1 and infos[-1].filename == "results.json"
        assert archive.read("results.json") == b'{"files": %d}\n' % files
        if files:
            assert archive.read(f"{files - 1:05d}.txt") == f"file {files - 1}\n".encode()
            assert infos[0].date_time == (2026, 3, 4, 5, 6, 8) and infos[0].compress_type == zipfile.ZIP_STORED
    if shutil.which("unzip") is None:
        pytest.skip("Info-ZIP's unzip is not installed; Python's zipfile read it")
    checked = subprocess.run(["unzip", "-tq", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
