"""`scripts/text_split.py`: whole plays for test and validation, the rest for training, on a small stand-in
for Tiny Shakespeare that holds each play's real first speech."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "text_split.py"
OPENINGS = [
    "First Citizen:\nBefore we proceed any further, hear me speak.",
    "GLOUCESTER:\nNow is the winter of our discontent",
    "KING RICHARD II:\nOld John of Gaunt, time-honour'd Lancaster,",
    "GREGORY:\nNo, for then we should be colliers.",
    "WARWICK:\nI wonder how the king escaped our hands.",
    "ARCHIDAMUS:\nIf you shall chance, Camillo, to visit Bohemia,",
    "DUKE VINCENTIO:\nEscalus.",
    "SLY:\nI'll pheeze you, in faith.",
]


def stand_in() -> str:
    """Eight 'plays', each its real first speech then lines naming the play: 1,000 characters each but the
    last, 300, so that the tail (10%) holds all of the eighth and the end of the seventh, as in the real file."""
    plays = []
    for number, opening in enumerate(OPENINGS, start=1):
        body = "".join(f"\n\nPLAYER {number}:\nline {i} of play {number}." for i in range(60))
        plays.append((opening + body)[: 1000 if number < 8 else 300].rstrip("\n"))
    return "\n\n".join(plays)


def split(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    source = tmp_path / "input.txt"
    source.write_text(text, encoding="utf-8")
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(source), str(tmp_path / "out")], capture_output=True, text=True, timeout=60
    )


def test_whole_plays_go_to_test_and_validation_and_the_rest_to_training(tmp_path: Path) -> None:
    text = stand_in()
    assert split(tmp_path, text).returncode == 0
    out = tmp_path / "out"
    files = {str(p.relative_to(out)): p.read_text(encoding="utf-8") for p in sorted(out.rglob("*.txt"))}
    cut = len(text) - int(len(text) * 0.1)  # the tail: the last 10%, as evaluate's split=validation cuts it
    assert files["test/tail.txt"] == text[cut:]
    assert files["test/3-richard-ii.txt"].startswith("KING RICHARD II:") and "play 3." in files["test/3-richard-ii.txt"]
    assert sorted(p for p in files if p.startswith("validation/")) == ["validation/6-winters-tale.txt"]
    selection = sorted(p.removeprefix("selection/") for p in files if p.startswith("selection/"))
    assert selection == [
        "1-coriolanus.txt",
        "2-richard-iii.txt",
        "4-romeo-and-juliet.txt",
        "5-henry-vi-part-3.txt",
        "7-measure-for-measure.txt",
    ]  # the 8th play lies wholly in the tail
    final = sorted(p.removeprefix("final/") for p in files if p.startswith("final/"))
    assert final == sorted([*selection, "6-winters-tale.txt"])
    # Before the tail, every character is in exactly one of training, validation and test, in order.
    in_order = [files[f"selection/{name}"] for name in selection[:2]]
    in_order += [files["test/3-richard-ii.txt"], *(files[f"selection/{name}"] for name in selection[2:4])]
    in_order += [files["validation/6-winters-tale.txt"], files["selection/7-measure-for-measure.txt"]]
    assert "\n\n".join(in_order) == text[:cut].strip("\n")
    for name in selection:
        number = name[0]
        assert f"play {number}." in files[f"selection/{name}"]
        assert not any(f"play {other}." in files[f"selection/{name}"] for other in "12345678" if other != number)
    assert "".join(files[f"final/{name}"] for name in final).count("play 3.") == 0  # the test play is never trained on


def test_a_text_without_the_plays_is_refused_in_one_line(tmp_path: Path) -> None:
    refused = split(tmp_path, stand_in().replace("WARWICK:", "WARWICKE:"))
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "text_split: 5-henry-vi-part-3's first speech 'WARWICK:' is not in the text (after the play before it); "
        "give Tiny Shakespeare's input.txt"
    )
    assert not (tmp_path / "out").exists()
