"""Write the test data committed beside this script from the full files it was cut from.

    python tests/data/make_subset.py [SHARED]     # SHARED: the folder holding data/ and schemas/ (default ../shared)

The cut is done on the raw bytes, not with aigc's own IDX reader and writer, so the tests of that reader
read files it did not write. gzip with mtime 0 makes a rerun byte-identical.
"""

from __future__ import annotations

import gzip
import shutil
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The last 2,000 of the 8,000 shared digits: no bundled model trained on them (the classifier and the GAN
# hold out the last 2,000, the VAE the last 1,000), so tests can score the bundled models on them.
FIRST_DIGIT, DIGITS = 6000, 2000
# The first 1,000: the VAE's test split, which its train job never uses (docs/vae.md).
VAE_TEST = "mnist-first-1000-idx3-ubyte.gz"
VAE_TEST_DIGITS = 1000
SHAKESPEARE_CHARS = 100_000  # cut back to the end of the last whole speech before this


def cut_idx(source: Path, target: Path, first: int, count: int) -> None:
    """Items first..first+count-1 of a gzipped IDX file, its header's count rewritten to match."""
    raw = gzip.decompress(source.read_bytes())
    dims = raw[3]  # magic: 0, 0, type code 0x08 (uint8), number of dimensions
    shape = struct.unpack(f">{dims}I", raw[4 : 4 + 4 * dims])
    item = 1
    for size in shape[1:]:
        item *= size
    if first + count > shape[0]:
        raise SystemExit(f"{source} holds {shape[0]} items; cannot take {first}..{first + count - 1}")
    body = 4 + 4 * dims
    header = raw[:4] + struct.pack(f">{dims}I", count, *shape[1:])
    items = raw[body + first * item : body + (first + count) * item]
    target.write_bytes(gzip.compress(header + items, compresslevel=9, mtime=0))


def first_speeches(source: Path, target: Path, limit: int) -> None:
    text = source.read_text(encoding="utf-8")[:limit]
    target.write_text(text[: text.rindex("\n\n") + 1], encoding="utf-8")


def main(shared: Path) -> None:
    (HERE / "mnist").mkdir(exist_ok=True)
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        cut_idx(shared / "data" / "mnist" / name, HERE / "mnist" / name, FIRST_DIGIT, DIGITS)
    cut_idx(shared / "data" / "mnist" / "train-images-idx3-ubyte.gz", HERE / VAE_TEST, 0, VAE_TEST_DIGITS)
    first_speeches(shared / "data" / "tinyshakespeare" / "input.txt", HERE / "tinyshakespeare.txt", SHAKESPEARE_CHARS)
    shutil.copyfile(shared / "schemas" / "compose-spec.json", HERE / "compose-spec.json")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[2] / "shared")
