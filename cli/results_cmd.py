"""`aigc results ID --out DIR`: write a job's results as files."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import typer

from aigc.cli.render import err, print_json

EXTENSIONS = {"image/png": ".png"}


def results(
    job_id: str = typer.Argument(..., help="Job id."),
    out_dir: Path | None = typer.Option(None, "--out", help="Folder to write the files into (created)."),
    json_out: bool = typer.Option(False, "--json", help="List the results as JSON instead."),
) -> None:
    """Write a job's results (PNGs plus a contact sheet, or .txt files) into a folder, or list them."""
    from aigc.cli.serialize import result_dict
    from aigc.core.errors import UsageError
    from aigc.core.jobs import parse_job_id
    from aigc.core.store import Store, queries

    store = Store.from_env()
    with store.transaction() as session:
        job = queries.get_job(session, parse_job_id(job_id))
        rows = list(queries.results_of(session, job.id))
    if json_out or out_dir is None:
        if not json_out:
            raise UsageError("give --out DIR to write the files, or --json to list them")
        print_json([result_dict(r) for r in rows])
        return
    if not rows:
        raise UsageError(f"job {job.id} has no results (status {job.status})")
    out_dir.mkdir(parents=True, exist_ok=True)
    for row in rows:
        name = f"{row.index:05d}" if row.role == "item" else f"{row.role}-{row.index:05d}"
        if row.kind == "text":
            _write(out_dir / f"{name}.txt", (row.text or "").encode())
        else:
            _write(out_dir / f"{name}{EXTENSIONS.get(row.mime, '.bin')}", row.data or b"")
    images = [r for r in rows if r.kind == "image" and r.role == "item"]
    if images and not any(r.role == "grid" for r in rows):
        _write(out_dir / "grid.png", _sheet([r.data or b"" for r in images]))
    err.print(f"wrote {len(rows)} results of job {job.id} to {out_dir}")


def _sheet(pngs: list[bytes]) -> bytes:
    import io

    import numpy as np
    from PIL import Image

    from aigc.core.images import contact_sheet, encode_png

    arrays = [np.asarray(Image.open(io.BytesIO(p))) for p in pngs[:1024]]
    return encode_png(contact_sheet(arrays))


def _write(path: Path, data: bytes) -> None:
    """Write via a temporary file, so an interrupted export never leaves a truncated file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".partial-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)
