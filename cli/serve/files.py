"""Results as files: one at a time, or all of a job's as a zip streamed batch by batch.

Names come from the row's index and role only (never from anything a request or a plugin can spell
as a path), and the content type of a download is one of a short list, so a stored result can never
be served as a page that runs script in the gallery's origin.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from aigc.cli.serialize import result_dict
from aigc.cli.serve.views import result_batches
from aigc.cli.serve.zipstream import StreamedZip, crc_of
from aigc.core.store import Result, Store

EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "text/plain": ".txt",
    "application/json": ".json",
}
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp"})
_ROLE = re.compile(r"^[a-z0-9_-]{1,16}$")


def base_mime(mime: str) -> str:
    return mime.split(";", 1)[0].strip().lower()


def file_name(index: int, role: str, kind: str, mime: str) -> str:
    """`00007.png` for an item, `grid-00064.png` for another role; the role is kept only if it is a plain word."""
    stem = f"{index:05d}" if role == "item" else f"{role if _ROLE.match(role) else 'result'}-{index:05d}"
    extension = ".txt" if kind == "text" else EXTENSIONS.get(base_mime(mime), ".bin")
    return stem + extension


def content(row: Result) -> tuple[bytes, str, bool]:
    """(body, content type, shown inline) for one result."""
    if row.kind == "text":
        return (row.text or "").encode(), "text/plain; charset=utf-8", True
    mime = base_mime(row.mime)
    if mime in INLINE_TYPES:
        return row.data or b"", mime, True
    return row.data or b"", "application/octet-stream", False


def zip_stream(store: Store, job: dict[str, Any]) -> Iterator[bytes]:
    """The job's results (stored, not recompressed: PNGs are compressed already) plus a manifest.

    Memory stays flat however many results there are: rows come in batches, each batch's bytes are sent
    before the next is read, and both the manifest (`results.json`, last) and the zip's central directory
    (a record per file, which the format puts at the end) are spooled to temporary files as the rows pass.
    """
    with tempfile.TemporaryFile() as manifest, StreamedZip() as archive:
        manifest.write(f'{{\n  "job": {_json(job)},\n  "results": ['.encode())
        separator = b"\n    "
        for batch in result_batches(store, job["id"]):
            sent = []
            for row in batch:
                name = file_name(row.index, row.role, row.kind, row.mime)
                body, _, _ = content(row)
                sent.append(archive.file(name, body, row.created_at))
                manifest.write(separator + _json({**result_dict(row), "file": name}).encode())
                separator = b",\n    "
            yield b"".join(sent)
        manifest.write(b"\n  ]\n}\n")
        size = manifest.tell()
        yield archive.header("results.json", size, crc_of(manifest), datetime.now())
        manifest.seek(0)
        while chunk := manifest.read(1 << 20):
            yield chunk
        yield from archive.end()


def _json(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)
