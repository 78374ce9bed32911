"""`aigc verify`: read a file's provenance label back, check it against the content, and ask the store."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aigc.core import c2pa_signing, provenance
from aigc.core.store import Store, queries

C2PA_CHUNK = b"caBX"  # where a C2PA manifest store sits in a PNG


@dataclass
class Verdict:
    path: Path
    label: dict[str, Any] | None = None
    content_ok: bool = False  # the pixel (or text) digest matches the label's
    xmp: bool = False  # XMP with IPTC's trainedAlgorithmicMedia (PNG only)
    store: str = "not asked"
    c2pa: str = "none"
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.label is not None and self.content_ok and not self.problems


def verify_file(path: Path, store: Store | None) -> Verdict:
    verdict = Verdict(path)
    data = path.read_bytes()
    if data.startswith(provenance.PNG_SIGNATURE):
        _verify_png(verdict, data)
    else:
        _verify_text(verdict, data)
    if verdict.label is not None and store is not None:
        verdict.store = _ask_store(store, verdict.label, data)
    return verdict


def _verify_png(verdict: Verdict, png: bytes) -> None:
    chunks = provenance.read_itxt(png)
    verdict.xmp = provenance.SOURCE_TYPE in chunks.get(provenance.XMP_KEY, "")
    if C2PA_CHUNK in png:
        verdict.c2pa, passes = c2pa_signing.check(png)
        if not passes:
            verdict.problems.append(f"C2PA: {verdict.c2pa}")
    raw = chunks.get(provenance.LABEL_KEY)
    if raw is None:
        verdict.problems.append("no AIGC label")
        return
    verdict.label = _parse(verdict, raw)
    if verdict.label is None:
        return
    verdict.content_ok = provenance.pixel_sha256(png) == verdict.label.get("pixels_sha256")
    if not verdict.content_ok:
        verdict.problems.append("the pixels do not match the label's digest (the image was changed)")
    if not verdict.xmp:
        verdict.problems.append("no XMP digital source type")


def _verify_text(verdict: Verdict, data: bytes) -> None:
    sidecar = verdict.path.with_suffix(".json")
    if not sidecar.is_file():
        verdict.problems.append(f"no AIGC label: a text's label is in its sidecar {sidecar.name}, which is missing")
        return
    try:
        block = json.loads(sidecar.read_text()).get(provenance.LABEL_KEY)
    except (ValueError, AttributeError):
        block = None
    if not isinstance(block, dict):
        verdict.problems.append(f"no AIGC label in {sidecar.name}")
        return
    verdict.label = block
    verdict.content_ok = provenance.text_sha256(data.decode("utf-8", "replace")) == block.get("text_sha256")
    if not verdict.content_ok:
        verdict.problems.append("the text does not match the label's digest (it was changed)")


def _parse(verdict: Verdict, raw: str) -> dict[str, Any] | None:
    try:
        block = json.loads(raw)
    except ValueError:
        block = None
    if not isinstance(block, dict) or block.get("label") != provenance.LABEL:
        verdict.problems.append("an AIGC chunk that is not an aigc label")
        return None
    return block


def _ask_store(store: Store, label: dict[str, Any], data: bytes) -> str:
    job_id, index = label.get("job_id"), label.get("result_index")
    if not isinstance(job_id, int):
        return "no job id in the label"
    with store.transaction() as session:
        job = queries.find_job(session, job_id)
        if job is None:
            return f"job {job_id} is not in this store"
        if index is None:
            return f"job {job_id} is in this store (a sheet of its results)"
        row = queries.get_result(session, job_id, index)
    if row is None:
        return f"job {job_id} is in this store, but not result {index}"
    stored = row.data if row.data is not None else (row.text or "").encode()
    if stored == data:
        return f"known: job {job_id} result {index}, the same bytes"
    return f"job {job_id} result {index} is in this store with different bytes"
