"""Split Tiny Shakespeare into the text plugin's training, validation and test parts, by whole plays.

The file is a run of eight plays; each starts at a known first speech. Out of it:

- test: the file's last 10% (the tail scored since the first bundled model: `evaluate -p split=validation`)
  and one whole play, Richard II, never trained on and never used to choose anything;
- validation: one whole play, The Winter's Tale, for choosing hyperparameters;
- selection/: the rest, one file per play, to train the candidates compared on the validation play;
- final/: selection/ plus the validation play: the bundled model trains on everything but the test part.

    python scripts/text_split.py ../shared/data/tinyshakespeare/input.txt OUT

Only the standard library: it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# (file name, the play's first speech): the plays in the order the file holds them.
PLAYS = [
    ("1-coriolanus", "First Citizen:\nBefore we proceed any further"),
    ("2-richard-iii", "GLOUCESTER:\nNow is the winter of our discontent"),
    ("3-richard-ii", "KING RICHARD II:\nOld John of Gaunt"),
    ("4-romeo-and-juliet", "GREGORY:\nNo, for then we should be colliers"),
    ("5-henry-vi-part-3", "WARWICK:\nI wonder how the king escaped"),
    ("6-winters-tale", "ARCHIDAMUS:\nIf you shall chance, Camillo"),
    ("7-measure-for-measure", "DUKE VINCENTIO:\nEscalus."),
    ("8-taming-of-the-shrew", "SLY:\nI'll pheeze you, in faith."),
]
TEST_PLAY = "3-richard-ii"
VALIDATION_PLAY = "6-winters-tale"
TAIL = 0.1  # as the evaluate job's split=validation (holdout=0.1) cuts it


def play_starts(text: str) -> list[int]:
    """Where each play begins; refuses a text in which any first speech is missing or out of order."""
    starts: list[int] = []
    for name, opening in PLAYS:
        at = text.find(opening, starts[-1] + 1 if starts else 0)
        if at < 0:
            raise SystemExit(
                f"text_split: {name}'s first speech {opening.splitlines()[0]!r} is not in the text "
                "(after the play before it); give Tiny Shakespeare's input.txt"
            )
        starts.append(at)
    return starts


def split(text: str) -> dict[str, str]:
    """{relative path: text} of every part; the parts of the text before the tail cover it exactly once."""
    cut = len(text) - int(len(text) * TAIL)
    starts = play_starts(text)
    bounds = [*starts[1:], len(text)]
    parts = {"test/tail.txt": text[cut:]}
    for (name, _), start, end in zip(PLAYS, starts, bounds, strict=True):
        play = text[start : min(end, cut)].strip("\n")
        if not play:
            continue  # the play lies wholly in the tail
        if name == TEST_PLAY:
            parts[f"test/{name}.txt"] = play
        elif name == VALIDATION_PLAY:
            parts[f"validation/{name}.txt"] = play
            parts[f"final/{name}.txt"] = play
        else:
            parts[f"selection/{name}.txt"] = play
            parts[f"final/{name}.txt"] = play
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("text", type=Path, help="Tiny Shakespeare's input.txt")
    parser.add_argument("out", type=Path, help="folder to write test/, validation/, selection/ and final/ into")
    args = parser.parse_args()
    text = args.text.read_text(encoding="utf-8")
    for relative, part in split(text).items():
        path = args.out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(part, encoding="utf-8")
        print(f"{path}: {len(part):,} characters", file=sys.stderr)


if __name__ == "__main__":
    main()
