"""MNIST from the standard IDX files: read, locate, download into a cache, split.

The reader needs only numpy and the standard library, so tests and plugins use it without torch.
`load_mnist(None)` reads the cache folder (`$AIGC_DATA_DIR/mnist`) and fills it from the public
mirrors when it is empty; every downloaded file is checked against its known sha256 and md5.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aigc.core.plugin_api import UsageError, dataset_dir, environment

# IDX type codes (third byte of the magic number) to big-endian numpy dtypes.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

IMAGES = "train-images-idx3-ubyte"
LABELS = "train-labels-idx1-ubyte"
# Folder look-up order: the training set first, the test set when only it is present.
IMAGE_NAMES = (IMAGES, "train-images.idx3-ubyte", "t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte")


@dataclass(frozen=True)
class Checksum:
    sha256: str
    md5: str


# The published archives (the same bytes on every mirror below).
CHECKSUMS: dict[str, Checksum] = {
    "train-images-idx3-ubyte.gz": Checksum(
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    ),
    "train-labels-idx1-ubyte.gz": Checksum(
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", "d53e105ee54ea40749a09fcbcd1e9432"
    ),
    "t10k-images-idx3-ubyte.gz": Checksum(
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", "9fb629c4189551a2d022fa330f9573f3"
    ),
    "t10k-labels-idx1-ubyte.gz": Checksum(
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", "ec29112dd5afa0611ce80d1b7f02629c"
    ),
}

DEFAULT_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
TIMEOUT_S = 30.0
CHUNK = 1 << 16


@dataclass(frozen=True)
class MnistData:
    images: np.ndarray  # (N, 28, 28) uint8, 0 = background
    labels: np.ndarray | None  # (N,) uint8 in 0..9, None when no labels file was read
    source: Path  # the folder or images file it came from

    def __len__(self) -> int:
        return len(self.images)


# -- reading -------------------------------------------------------------------------------------
def read_idx(path: str | Path) -> np.ndarray:
    """One IDX file (raw or gzip) as an array; a wrong magic or a wrong length is a UsageError."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":  # gzip magic, whatever the file is called
            raw = gzip.decompress(raw)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file; expected an MNIST IDX file") from None
    except (OSError, EOFError) as exc:  # BadGzipFile is an OSError; a cut-off gzip stream is an EOFError
        raise UsageError(f"{path}: damaged gzip data ({exc}); expected a gzip-compressed IDX file") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES or not 1 <= raw[3] <= 4:
        raise UsageError(
            f"{path}: not an IDX file (magic {raw[:4].hex() or 'missing'}); "
            "expected 00 00 <type 08..0e> <dims 1..4>, as in train-images-idx3-ubyte"
        )
    dtype, ndim = IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise UsageError(f"{path}: truncated header; expected {ndim} dimension sizes after the magic")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        state = "truncated" if len(raw) < expected else "has trailing bytes"
        raise UsageError(f"{path}: {state}: {len(raw)} bytes, expected {expected} for shape {shape} of {dtype}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: str | Path, array: np.ndarray) -> Path:
    """Write an array as an IDX file (gzip-compressed when the name ends in .gz): `read_idx`'s inverse."""
    path = Path(path)
    codes = {dtype: code for code, dtype in IDX_DTYPES.items()}
    dtype = array.dtype.newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype
    if dtype not in codes or not 1 <= array.ndim <= 4:
        raise ValueError(f"IDX holds 1..4 dimensional arrays of {sorted(map(str, codes))}, not {array.dtype}")
    header = bytes([0, 0, codes[dtype], array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    raw = header + np.ascontiguousarray(array, dtype=dtype).tobytes()
    path.write_bytes(gzip.compress(raw, mtime=0) if path.suffix == ".gz" else raw)
    return path


def _first_existing(folder: Path, stems: Sequence[str]) -> Path | None:
    for stem in stems:
        for name in (f"{stem}.gz", stem):
            if (folder / name).is_file():
                return folder / name
    return None


def _labels_beside(images: Path) -> Path | None:
    stem = images.name.removesuffix(".gz")
    if "images" not in stem:
        return None
    return _first_existing(images.parent, [stem.replace("images", "labels").replace("idx3", "idx1")])


def _read_images(path: Path) -> np.ndarray:
    images = read_idx(path)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise UsageError(f"{path}: holds {images.dtype} {images.shape}; expected uint8 digits of shape (N, 28, 28)")
    if len(images) == 0:
        raise UsageError(f"{path}: holds no digits")
    return images


def _read_labels(path: Path, count: int) -> np.ndarray:
    labels = read_idx(path)
    if labels.dtype != np.uint8 or labels.shape != (count,):
        raise UsageError(f"{path}: holds {labels.dtype} {labels.shape}; expected {count} uint8 labels")
    if labels.max(initial=0) > 9:
        raise UsageError(f"{path}: holds label {labels.max()}; expected digits 0..9")
    return labels


def load_mnist(source: str | Path | None = None, *, labels: bool = True, download: bool = True) -> MnistData:
    """Digits (and their labels when a labels file is found) from a folder, an images file or the cache.

    source: a folder holding `train-images-idx3-ubyte[.gz]` (or the `t10k-*` files), an images file
    (its labels file is looked for beside it by name), or None for the cache folder, downloaded into
    when empty and `download` is true. `labels=False` skips reading labels.
    """
    if source is None:
        folder = cache_dir()
        if _first_existing(folder, IMAGE_NAMES) is None:
            if not download:
                raise UsageError(missing_message(folder))
            download_mnist(folder, names=[f"{IMAGES}.gz", f"{LABELS}.gz"] if labels else [f"{IMAGES}.gz"])
        source = folder
    source = Path(source).expanduser()
    images_path = images_file(source)
    images = _read_images(images_path)
    labels_path = _labels_beside(images_path) if labels else None
    return MnistData(images, _read_labels(labels_path, len(images)) if labels_path else None, source)


def images_file(source: str | Path) -> Path:
    """The images IDX file of a folder (by its standard names) or the file itself; UsageError if none."""
    source = Path(source).expanduser()
    if source.is_dir():
        images_path = _first_existing(source, IMAGE_NAMES)
        if images_path is None:
            raise UsageError(f"{source}: no MNIST images file; expected {IMAGES}.gz (or t10k-images-idx3-ubyte[.gz])")
        return images_path
    if source.is_file():
        return source
    raise UsageError(f"{source}: no such file or folder; expected an MNIST folder or images IDX file")


def digits_in_param(name: str, source: str | Path | None) -> int | None:
    """`digit_count(source)` for a job's param `name`: its errors begin with the param's name."""
    try:
        return digit_count(source)
    except UsageError as exc:
        raise UsageError(f"{name} {exc}") from None


def digit_count(source: str | Path | None) -> int | None:
    """How many digits `load_mnist(source)` reads, from the images file's header alone (a quick check
    before a job); None for the cache folder while it is empty (the job downloads it)."""
    if source is None:
        folder = cache_dir()
        if _first_existing(folder, IMAGE_NAMES) is None:
            return None
        source = folder
    path = images_file(source)
    try:
        with open(path, "rb") as raw:
            head = raw.read(8)
        if head[:2] == b"\x1f\x8b":
            with gzip.open(path, "rb") as unpacked:
                head = unpacked.read(8)
    except (OSError, EOFError) as exc:
        raise UsageError(f"{path}: unreadable ({exc}); expected an MNIST images IDX file") from None
    if len(head) < 8 or head[:2] != b"\0\0" or head[2] not in IDX_DTYPES or head[3] != 3:
        raise UsageError(f"{path}: not an IDX images file (magic {head[:4].hex() or 'missing'}); expected 00 00 08 03")
    return int.from_bytes(head[4:8], "big")


def split(data: MnistData, holdout: int) -> tuple[MnistData, MnistData]:
    """(train, held_out): the last `holdout` digits are held out, so a split is the same every time."""
    if not 0 < holdout < len(data):
        raise UsageError(f"cannot hold out {holdout} of {len(data)} digits; expected 1..{len(data) - 1}")
    cut = len(data) - holdout
    return subset(data, 0, cut), subset(data, cut, len(data))


def subset(data: MnistData, start: int, stop: int) -> MnistData:
    """Digits start..stop-1 (views, not copies), with their labels if data has them."""
    part = slice(start, stop)
    return MnistData(data.images[part], None if data.labels is None else data.labels[part], data.source)


# -- the cache and the download ------------------------------------------------------------------
def cache_dir() -> Path:
    """`$AIGC_DATA_DIR/mnist`; AIGC_DATA_DIR defaults to `<aigc data home>/data`."""
    return dataset_dir("mnist")


def mirrors() -> list[str]:
    """Base URLs tried in order; `AIGC_MNIST_MIRROR` (comma-separated) replaces the public ones."""
    override = environment().mnist_mirror
    chosen = [m.strip() for m in override.split(",") if m.strip()] or list(DEFAULT_MIRRORS)
    return [m if m.endswith("/") else m + "/" for m in chosen]


def missing_message(folder: Path) -> str:
    return (
        f"MNIST not found and not downloadable: put {IMAGES}.gz and {LABELS}.gz in {folder} "
        "(or set AIGC_DATA_DIR, or pass data=<folder>)"
    )


def download_mnist(
    folder: Path,
    *,
    names: Sequence[str] = (f"{IMAGES}.gz", f"{LABELS}.gz"),
    checksums: Mapping[str, Checksum] = CHECKSUMS,
    urls: Sequence[str] | None = None,
) -> list[Path]:
    """Fetch `names` into `folder` from the first mirror that serves them with the right checksums."""
    folder.mkdir(parents=True, exist_ok=True)
    bases = list(urls) if urls is not None else mirrors()
    fetched = []
    for name in names:
        target = folder / name
        if not target.is_file():
            _fetch_one(name, target, bases, checksums[name])
        fetched.append(target)
    return fetched


def _fetch_one(name: str, target: Path, bases: Sequence[str], expected: Checksum) -> None:
    problems, answered = [], False
    for base in bases:
        try:
            _download(base + name, target, expected)
            return
        except (ChecksumMismatch, urllib.error.HTTPError) as exc:  # the server answered, wrongly
            answered = True
            problems.append(f"{base}{name}: {exc}")
        except OSError as exc:  # URLError, timeouts, refused connections: nothing answered
            problems.append(f"{base}{name}: {getattr(exc, 'reason', exc)}")
    if not answered:
        raise UsageError(missing_message(target.parent) + f" (offline? tried {', '.join(bases)})")
    raise UsageError(f"could not download {name}: " + "; ".join(problems))


class ChecksumMismatch(Exception):
    pass


def _download(url: str, target: Path, expected: Checksum) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    partial = target.with_name(target.name + ".partial")
    sha, md5 = hashlib.sha256(), hashlib.md5()
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, open(partial, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            columns = (TextColumn(target.name), BarColumn(), DownloadColumn(), TransferSpeedColumn())
            with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
                task = bar.add_task("download", total=total)
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    sha.update(chunk)
                    md5.update(chunk)
                    bar.advance(task, len(chunk))
        if sha.hexdigest() != expected.sha256 or md5.hexdigest() != expected.md5:
            raise ChecksumMismatch(f"checksum mismatch: sha256 {sha.hexdigest()[:12]}, expected {expected.sha256[:12]}")
        os.replace(partial, target)  # a reader never sees a half-downloaded or unverified file
    finally:
        partial.unlink(missing_ok=True)
