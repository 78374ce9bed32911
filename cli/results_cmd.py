"""`aigc results ID --out DIR`: write a job's results as files; without --out, print or preview them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from aigc.cli import completion
from aigc.cli.render import err, out, print_json

if TYPE_CHECKING:
    from aigc.cli.job_source import ResultRow
    from aigc.core.client import Client
    from aigc.core.store import Job, Result

EXTENSIONS = {"image/png": ".png"}


def sidecar(row: Result | ResultRow) -> dict[str, Any]:
    """A text result's `.json` sidecar: its provenance label and the rest of its metadata."""
    from aigc.core.provenance import LABEL_KEY

    meta = dict(row.meta or {})
    return {LABEL_KEY: meta.pop(LABEL_KEY), "index": row.index, "seed": row.seed, "meta": meta}


def labelled_sheet(job: Job, png: bytes) -> bytes:
    """A contact sheet made here is labelled like the results it shows (result index None: several)."""
    from aigc.core.provenance import Stamp, default_producer, label_png, pixel_sha256

    stamp = Stamp(default_producer(), job.id, job.plugin, job.kind, None, job.seed)
    return label_png(png, stamp.block(None, None, "pixels_sha256", pixel_sha256(png)))


def results(
    job_id: str = typer.Argument(..., help="Job id.", autocompletion=completion.job_ids),
    out_dir: Path | None = typer.Option(None, "--out", help="A new or empty folder to write the files into."),
    force: bool = typer.Option(
        False, "--force", help="Write into a folder that is not empty, replacing same-named files."
    ),
    json_out: bool = typer.Option(False, "--json", help="List the results as JSON instead."),
    no_preview: bool = typer.Option(False, "--no-preview", help="Do not show images in the terminal."),
) -> None:
    """Write a job's results (PNGs plus a contact sheet, or .txt files) into a folder, or list them.

    Without --out, texts are printed and images are previewed in the terminal.
    """
    from aigc.cli.job_source import remote_client
    from aigc.cli.serialize import result_dict
    from aigc.core.jobs import parse_job_id
    from aigc.core.store import Store, queries

    if out_dir is not None:
        check_destination(out_dir, force=force)
    client = remote_client()
    if client is not None:
        _remote(client, parse_job_id(job_id), out_dir, force, json_out, not no_preview)
        return
    store = Store.from_env()
    with store.transaction() as session:
        job = queries.get_job(session, parse_job_id(job_id))
        rows = list(queries.results_of(session, job.id))
    if json_out:
        print_json([result_dict(r) for r in rows])
    elif out_dir is None:
        _show(job, rows, preview=not no_preview)
    else:
        write_results(job, rows, out_dir, force=force)


def _remote(client: Client, job_id: int, out_dir: Path | None, force: bool, json_out: bool, preview: bool) -> None:
    from aigc.cli.job_source import RemoteSource, job_from_api

    source = RemoteSource(client)
    job = job_from_api(client.job(job_id))
    if json_out:
        print_json([{k: v for k, v in info.items() if k != "url"} for info in client.all_result_infos(job_id)])
    elif out_dir is None:
        _show(job, source.rows(job), preview=preview)
    else:
        source.write(job, out_dir, force=force)


def _show(job: Job, rows: list[Any], preview: bool) -> None:
    """Texts to stdout; images previewed when stdout is a terminal that shows them."""
    from aigc.cli import preview as previews
    from aigc.core.errors import UsageError

    texts = [r.text or "" for r in rows if r.kind == "text" and r.role == "item"]
    for text in texts:
        out.print(text, markup=False)
        out.print()
    mode = previews.terminal_mode() if preview else None
    shown = previews.show(rows, mode) if mode else None
    if shown is not None:
        err.print(f"{shown}; files: aigc results {job.id} --out DIR")
    elif not rows:
        raise UsageError(f"job {job.id} has no results (status {job.status})")
    elif not texts:
        raise UsageError(f"job {job.id}'s results are images: give --out DIR to write them, or --json to list them")


def check_destination(out_dir: Path, force: bool = False) -> None:
    """Refuse, before anything is written (or a job is created), a destination that cannot hold files."""
    from aigc.cli.output_folder import check_target

    check_target(out_dir, force=force)


def write_results(job: Job, rows: list[Result], out_dir: Path, force: bool = False) -> None:
    """The job's results as files: NNNNN.png / .txt per item, other roles prefixed, and grid.png."""
    from aigc.cli.output_folder import staged_folder
    from aigc.core.errors import UsageError
    from aigc.core.images import sheet_png
    from aigc.core.provenance import LABEL_KEY

    if not rows:
        raise UsageError(f"job {job.id} has no results (status {job.status})")
    with staged_folder(out_dir, force=force) as staged:  # all files land in out_dir, or none
        for row in rows:
            name = f"{row.index:05d}" if row.role == "item" else f"{row.role}-{row.index:05d}"
            if row.kind == "text":
                (staged.path / f"{name}.txt").write_bytes((row.text or "").encode())
                if LABEL_KEY in (row.meta or {}):  # the label of a text travels beside it (`aigc verify`)
                    (staged.path / f"{name}.json").write_text(json.dumps(sidecar(row), indent=2) + "\n")
            else:
                (staged.path / f"{name}{EXTENSIONS.get(row.mime, '.bin')}").write_bytes(row.data or b"")
        images = [r for r in rows if r.kind == "image" and r.role == "item"]
        if images and not any(r.role == "grid" for r in rows):
            (staged.path / "grid.png").write_bytes(labelled_sheet(job, sheet_png([r.data or b"" for r in images])))
    replaced = f" (replaced {len(staged.replaced)} files of the same names)" if staged.replaced else ""
    err.print(f"wrote {len(rows)} results of job {job.id} to {out_dir}{replaced}")
