"""`aigc compare`: jobs and models side by side, and their curves overlaid in a PNG or SVG file."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from conftest import cli
from PIL import Image

from aigc.core.store import Store, queries
from aigc.core.testing import submit


def _trained(settings, epochs: int) -> int:
    from aigc.core.runner import run_job

    job_id = submit(settings, "toy", "train", {"epochs": epochs, "seed": 1})
    assert run_job(job_id, settings=settings) == "succeeded"
    return job_id


def test_compare_jobs_and_models_with_plots(sqlite_settings, tmp_path):
    first, second = _trained(sqlite_settings, 2), _trained(sqlite_settings, 4)
    with Store(sqlite_settings).transaction() as session:
        model = queries.model_of_job(session, second)
    assert model is not None
    done = cli(sqlite_settings, "compare", str(first), f"m:{model.id}", "--json")
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["differing"] == ["epochs"]  # same seed, same sleep: only epochs differ
    assert [item["label"] for item in shown["items"]] == [f"job {first}", f"model {model.id}"]
    assert shown["items"][1]["metrics"]["loss"] == 0.25

    table = cli(sqlite_settings, "compare", str(first), str(second))
    assert table.stdout.splitlines()[1].split() == ["epochs", "2", "4"]

    png, svg = tmp_path / "curves.png", tmp_path / "curves.svg"
    assert cli(sqlite_settings, "compare", str(first), str(second), "--plot", str(png)).returncode == 0
    with Image.open(png) as image:
        assert image.format == "PNG" and image.width > 400
        colours = {colour for _, colour in image.getcolors(1 << 20)}
    assert (0x00, 0x72, 0xB2) in colours and (0xE6, 0x9F, 0x00) in colours  # one line per job
    assert cli(sqlite_settings, "compare", str(first), str(second), "--plot", str(svg)).returncode == 0
    root = ET.fromstring(svg.read_text())
    lines = root.findall(".//{http://www.w3.org/2000/svg}polyline")
    assert [len(line.get("points", "").split()) for line in lines] == [2, 4]


def test_compare_bad_input_is_one_line(sqlite_settings, tmp_path):
    job = _trained(sqlite_settings, 1)
    for args, message in [
        ([str(job)], "error: compare needs at least two jobs or models"),
        ([str(job), "m:999"], "error: no model with id 999; see `aigc models`"),
        (
            [str(job), "x"],
            "error: malformed job id 'x'; a job id is a number from `aigc jobs list`, or m:ID for a model",
        ),
        ([str(job), str(job), "--plot", str(tmp_path / "a.jpg")], "error: --plot "),
    ]:
        done = cli(sqlite_settings, "compare", *args)
        assert done.returncode == 2 and done.stderr.startswith(message), done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
