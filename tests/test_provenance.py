"""Every stored result carries its provenance label, whichever plugin made it; `aigc verify` reads it back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from aigc.cli.main import app
from aigc.core import provenance
from aigc.core.context import PendingResult
from aigc.core.images import decode_png, encode_grey_png, encode_png, read_png_text
from aigc.core.runner import run_job as run_stored
from aigc.core.testing import outcome_of, run_job, submit


def _label(png: bytes) -> dict:
    return json.loads(provenance.read_itxt(png)[provenance.LABEL_KEY])


def test_a_third_party_plugins_images_are_labelled_without_its_help(settings):
    job_id = submit(settings, "toy", "generate", {"n": 3, "seed": 7})
    assert run_stored(job_id, settings=settings) == "succeeded"
    outcome = outcome_of(settings, job_id)
    for result in outcome.items:
        label = _label(result.data)
        assert label["label"] == "AI-generated" and label["producer"]
        assert label["job_id"] == job_id and label["result_index"] == result.index
        assert label["plugin"] == "toy" and label["kind"] == "generate" and label["seed"] == 7
        assert label["pixels_sha256"] == provenance.pixel_sha256(result.data)
        assert len(label["produce_id"]) == 32
        xmp = provenance.read_itxt(result.data)[provenance.XMP_KEY]
        assert "Iptc4xmpExt:DigitalSourceType" in xmp and provenance.SOURCE_TYPE in xmp
        # The plugin's own chunks and pixels are untouched, and Pillow still reads the file.
        assert read_png_text(result.data)["index"] == str(result.index)
        assert decode_png(result.data).shape == (8, 8)
    assert len({_label(r.data)["produce_id"] for r in outcome.items}) == 3


def test_labels_keep_results_reproducible(sqlite_settings):
    first = outcome_of(sqlite_settings, _ran(sqlite_settings, {"seed": 3}))
    again = outcome_of(sqlite_settings, _ran(sqlite_settings, {"seed": 3}))
    # Two jobs of one seed: the same plugin bytes and pixels; only the job named in the label differs.
    assert [provenance.unlabelled(r.data) for r in first.items] == [provenance.unlabelled(r.data) for r in again.items]
    assert [_label(r.data)["pixels_sha256"] for r in first.items] == [
        _label(r.data)["pixels_sha256"] for r in again.items
    ]
    # One job labelled again (a re-run attempt) gives the very same bytes: nothing random or dated.
    stamp = provenance.Stamp("producer", 5, "toy", "generate", "ab" * 32, 3)
    png = encode_png(np.arange(64, dtype=np.uint8).reshape(8, 8))
    once = provenance.label_results([PendingResult(0, "image", "item", "image/png", png, None, 3, {})], stamp)
    twice = provenance.label_results([PendingResult(0, "image", "item", "image/png", png, None, 3, {})], stamp)
    assert once[0].data == twice[0].data and provenance.unlabelled(once[0].data) == png


def _ran(settings, params) -> int:
    job_id = submit(settings, "toy", "generate", params)
    run_stored(job_id, settings=settings)
    return job_id


@pytest.mark.parametrize(
    "png",
    [
        encode_grey_png(np.arange(28 * 28, dtype=np.uint8).reshape(28, 28)),  # filter 0: read without Pillow
        encode_png(np.random.default_rng(1).integers(0, 256, (9, 7, 3), dtype=np.uint8)),  # adaptive filters
        encode_png(np.random.default_rng(2).integers(0, 256, (5, 6), dtype=np.uint8)),
    ],
)
def test_pixel_digest_is_the_decoded_pixels_whichever_way_they_are_read(png):
    import hashlib

    assert provenance.pixel_sha256(png) == hashlib.sha256(np.ascontiguousarray(decode_png(png)).tobytes()).hexdigest()


def test_visible_label_marks_images_and_prefixes_texts(tmp_path):
    plain = run_job("toy", "generate", {"n": 1, "size": 16, "seed": 1}, tmp_path / "a")
    settings = plain.settings
    job_id = submit(settings, "toy", "generate", {"n": 1, "size": 16, "seed": 1}, label="visible")
    run_stored(job_id, settings=settings)
    marked = outcome_of(settings, job_id)
    before, after = decode_png(plain.items[0].data), decode_png(marked.items[0].data)
    assert (before[:9] == after[:9]).all()  # only the bottom-right corner changes
    assert after[-6, -7] == 255 and after[-7, -9:].max() == 0  # the top of the "A" on a dark plate
    assert _label(marked.items[0].data)["pixels_sha256"] == provenance.pixel_sha256(marked.items[0].data)
    assert marked.job.label == "visible"
    texts = run_job("chatter", "generate", {"prompt": "hello"}, tmp_path / "b")
    stamp = provenance.Stamp("p", 1, "chatter", "generate", None, 1, visible=True)
    text = provenance.label_results([PendingResult(0, "text", "item", "text/plain", None, "hi", 1, {})], stamp)[0]
    assert text.text == "[AI-generated] hi" and text.meta["AIGC"]["text_sha256"] == provenance.text_sha256(text.text)
    for result in texts.items:  # without a visible label: the text as the plugin wrote it, the block in its meta
        assert not result.text.startswith(provenance.VISIBLE_PREFIX)
        assert result.meta["AIGC"]["text_sha256"] == provenance.text_sha256(result.text)


def test_visible_label_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("AIGC_VISIBLE_LABEL", "1")
    outcome = run_job("toy", "generate", {"n": 1, "size": 16}, tmp_path)
    assert outcome.job.label == "visible"


def test_verify_reads_labels_checks_digests_and_asks_the_store(tmp_path, monkeypatch):
    outcome = run_job("toy", "generate", {"n": 2, "seed": 4}, tmp_path / "store")
    monkeypatch.setenv("AIGC_DATABASE_URL", outcome.settings.database_url)
    monkeypatch.setenv("AIGC_ARTIFACTS", str(outcome.settings.artifacts))
    runner = CliRunner()
    written = runner.invoke(app, ["results", str(outcome.job.id), "--out", str(tmp_path / "out")])
    assert written.exit_code == 0, written.output
    good = tmp_path / "out" / "00000.png"
    result = runner.invoke(app, ["verify", str(good), str(tmp_path / "out" / "grid.png")])
    assert result.exit_code == 0, result.output
    assert f"toy job {outcome.job.id} result 0" in result.output and "the same bytes" in result.output
    assert "C2PA: none" in result.output

    # Pixels changed but the label kept: caught by the digest.
    tampered = tmp_path / "tampered.png"
    pixels = decode_png(good.read_bytes()).copy()
    pixels[0, 0] ^= 1
    chunks = provenance.read_itxt(good.read_bytes())
    block = json.loads(chunks[provenance.LABEL_KEY])
    tampered.write_bytes(provenance.label_png(encode_png(pixels), block))
    unlabelled = tmp_path / "plain.png"
    unlabelled.write_bytes(encode_png(pixels))
    result = runner.invoke(app, ["verify", "--json", str(tampered), str(unlabelled)])
    assert result.exit_code == 1
    verdicts = json.loads(result.output)
    assert verdicts[0]["problems"] == ["the pixels do not match the label's digest (the image was changed)"]
    assert "different bytes" in verdicts[0]["store"]
    assert verdicts[1]["label"] is None and verdicts[1]["problems"] == ["no AIGC label"]


def test_text_results_get_a_json_sidecar_that_verify_reads(tmp_path, monkeypatch):
    outcome = run_job("chatter", "generate", {"prompt": "hello"}, tmp_path / "store")
    monkeypatch.setenv("AIGC_DATABASE_URL", outcome.settings.database_url)
    runner = CliRunner()
    assert runner.invoke(app, ["results", str(outcome.job.id), "--out", str(tmp_path / "out")]).exit_code == 0
    text, sidecar = tmp_path / "out" / "00000.txt", tmp_path / "out" / "00000.json"
    assert json.loads(sidecar.read_text())["AIGC"]["job_id"] == outcome.job.id
    assert runner.invoke(app, ["verify", str(text)]).exit_code == 0
    text.write_text(text.read_text() + " (edited)")
    edited = runner.invoke(app, ["verify", str(text)])
    assert edited.exit_code == 1 and "the text does not match" in edited.output


def test_producer_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("AIGC_PRODUCER", "Example Studio Ltd")
    outcome = run_job("toy", "generate", {"n": 1}, tmp_path)
    assert _label(outcome.items[0].data)["producer"] == "Example Studio Ltd"


def test_missing_file_is_one_line(tmp_path: Path):
    result = CliRunner().invoke(app, ["verify", str(tmp_path / "nope.png")], standalone_mode=False)
    assert "no such file" in str(result.exception)


@pytest.mark.parametrize("seed", [None, 0, 2**31 - 1])
def test_fast_label_text_is_the_canonical_json_of_the_block(seed):
    stamp = provenance.Stamp('odd "producer" {x}', 12, "toy", "generate", None, 9)
    digest = "ab" * 32
    expected = provenance.canonical(stamp.block(3, seed, "pixels_sha256", digest))
    assert provenance.png_label(stamp, 3, seed, digest) == expected
