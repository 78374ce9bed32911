"""`aigc results ID --out DIR`: write a job's results as files."""

from __future__ import annotations

from pathlib import Path

import typer

from aigc.cli.render import err, print_json

EXTENSIONS = {"image/png": ".png"}


def results(
    job_id: str = typer.Argument(..., help="Job id."),
    out_dir: Path | None = typer.Option(None, "--out", help="A new or empty folder to write the files into."),
    force: bool = typer.Option(
        False, "--force", help="Write into a folder that is not empty, replacing same-named files."
    ),
    json_out: bool = typer.Option(False, "--json", help="List the results as JSON instead."),
) -> None:
    """Write a job's results (PNGs plus a contact sheet, or .txt files) into a folder, or list them."""
    from aigc.cli.output_folder import staged_folder
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
    with staged_folder(out_dir, force=force) as staged:  # all files land in out_dir, or none
        for row in rows:
            name = f"{row.index:05d}" if row.role == "item" else f"{row.role}-{row.index:05d}"
            if row.kind == "text":
                (staged.path / f"{name}.txt").write_bytes((row.text or "").encode())
            else:
                (staged.path / f"{name}{EXTENSIONS.get(row.mime, '.bin')}").write_bytes(row.data or b"")
        images = [r for r in rows if r.kind == "image" and r.role == "item"]
        if images and not any(r.role == "grid" for r in rows):
            (staged.path / "grid.png").write_bytes(_sheet([r.data or b"" for r in images]))
    replaced = f" (replaced {len(staged.replaced)} files of the same names)" if staged.replaced else ""
    err.print(f"wrote {len(rows)} results of job {job.id} to {out_dir}{replaced}")


def _sheet(pngs: list[bytes]) -> bytes:
    import io

    import numpy as np
    from PIL import Image

    from aigc.core.images import contact_sheet, encode_png

    arrays = [np.asarray(Image.open(io.BytesIO(p))) for p in pngs[:1024]]
    return encode_png(contact_sheet(arrays))
