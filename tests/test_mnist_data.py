"""The plugins' shared MNIST reader: IDX files, folders, the cache, the checked download, and splits."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from aigc.core.errors import UsageError
from aigc.plugins.datasets import mnist
from aigc.plugins.datasets.mnist import Checksum, load_mnist, read_idx, split, write_idx


def digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n, dtype=np.uint8)


def write_set(
    folder: Path, images: np.ndarray, labels: np.ndarray | None, prefix: str = "train", gz: bool = True
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if gz else ""
    path = write_idx(folder / f"{prefix}-images-idx3-ubyte{ext}", images)
    if labels is not None:
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{ext}", labels)
    return path


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local HTTP server on 127.0.0.1 serving a folder the test fills: a stand-in MNIST mirror."""
    served = tmp_path / "mirror"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", served
    finally:
        server.shutdown()
        server.server_close()


def checksum(path: Path) -> Checksum:
    data = path.read_bytes()
    return Checksum(hashlib.sha256(data).hexdigest(), hashlib.md5(data).hexdigest())


# -- reading -------------------------------------------------------------------------------------
def test_reads_the_committed_digits_written_by_another_writer(mnist_dir: Path) -> None:
    """tests/data/mnist was cut from the MNIST files byte for byte (tests/data/make_subset.py), not written by us."""
    data = load_mnist(mnist_dir)
    assert data.images.shape == (2000, 28, 28) and data.images.dtype == np.uint8
    assert data.labels is not None and data.labels.shape == (2000,) and data.labels.dtype == np.uint8
    assert np.bincount(data.labels).tolist() == [205, 219, 209, 208, 189, 175, 194, 204, 200, 197]
    assert data.images.max() == 255 and data.images.min() == 0
    # MNIST centres each digit's mass in the 28x28 field: a header read a few bytes off would shift it.
    ink = data.images.mean(axis=0, dtype=np.float64)
    rows, cols = np.indices(ink.shape)
    assert abs((ink * rows).sum() / ink.sum() - 14) < 0.5 and abs((ink * cols).sum() / ink.sum() - 14) < 0.5


@pytest.mark.parametrize("gz", [True, False])
def test_folder_and_images_file_round_trip(tmp_path: Path, gz: bool) -> None:
    images, labels = digits(50)
    path = write_set(tmp_path, images, labels, gz=gz)
    for source in (tmp_path, path, str(path)):
        data = load_mnist(source)
        np.testing.assert_array_equal(data.images, images)
        np.testing.assert_array_equal(data.labels, labels)
    assert load_mnist(tmp_path).source == tmp_path
    assert load_mnist(tmp_path, labels=False).labels is None


def test_test_set_names_and_missing_labels(tmp_path: Path) -> None:
    images, labels = digits(20)
    path = write_set(tmp_path / "t10k", images, labels, prefix="t10k")
    np.testing.assert_array_equal(load_mnist(tmp_path / "t10k").labels, labels)
    path.with_name("t10k-labels-idx1-ubyte.gz").unlink()
    data = load_mnist(path)
    assert data.labels is None and len(data) == 20


def test_truncated_file_names_file_and_expected_size(tmp_path: Path) -> None:
    path = write_set(tmp_path, *digits(10), gz=False)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(UsageError, match=r"train-images-idx3-ubyte: truncated: .*expected 7856"):
        load_mnist(tmp_path)


def test_cut_off_gzip_is_a_usage_error(tmp_path: Path) -> None:
    path = write_set(tmp_path, *digits(10))
    path.write_bytes(path.read_bytes()[:-50])
    with pytest.raises(UsageError, match="damaged gzip"):
        read_idx(path)


def test_wrong_magic_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(UsageError, match=r"not an IDX file \(magic 89504e47\).*expected 00 00"):
        load_mnist(path)


def test_wrong_shape_and_bad_labels(tmp_path: Path) -> None:
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((4, 32, 32), np.uint8))
    with pytest.raises(UsageError, match=r"expected uint8 digits of shape \(N, 28, 28\)"):
        load_mnist(tmp_path)
    write_set(tmp_path, np.zeros((4, 28, 28), np.uint8), np.array([1, 2, 3, 11], np.uint8), gz=False)
    with pytest.raises(UsageError, match="label 11"):
        load_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(3, np.uint8))
    with pytest.raises(UsageError, match="expected 4 uint8 labels"):
        load_mnist(tmp_path)


def test_missing_source_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file or folder"):
        load_mnist(tmp_path / "nope")
    with pytest.raises(UsageError, match="no MNIST images file"):
        load_mnist(tmp_path)


def test_split_holds_out_the_last_digits(tmp_path: Path) -> None:
    images, labels = digits(30)
    data = load_mnist(write_set(tmp_path, images, labels))
    train, held = split(data, 10)
    np.testing.assert_array_equal(train.images, images[:20])
    np.testing.assert_array_equal(held.images, images[20:])
    np.testing.assert_array_equal(held.labels, labels[20:])
    for bad in (0, 30):
        with pytest.raises(UsageError, match="cannot hold out"):
            split(data, bad)


# -- the cache and the download ------------------------------------------------------------------
def test_cache_is_read_without_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIGC_DATA_DIR", str(tmp_path))
    images, labels = digits(12)
    write_set(tmp_path / "mnist", images, labels)
    data = load_mnist(download=False)
    assert data.source == tmp_path / "mnist"
    np.testing.assert_array_equal(data.labels, labels)


def test_offline_without_files_says_where_to_put_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIGC_DATA_DIR", str(tmp_path))
    with pytest.raises(UsageError, match=f"put train-images-idx3-ubyte.gz and .* in {tmp_path / 'mnist'}"):
        load_mnist(download=False)
    # A mirror nothing listens on: the same one-line message, naming what was tried.
    monkeypatch.setenv("AIGC_MNIST_MIRROR", "http://127.0.0.1:9/")
    with pytest.raises(UsageError, match=r"put train-images.*offline\? tried http://127.0.0.1:9/"):
        load_mnist()
    assert list((tmp_path / "mnist").iterdir()) == []


def test_download_from_a_mirror_with_checksums(
    tmp_path: Path, mirror: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, served = mirror
    images, labels = digits(64)
    write_set(served, images, labels)
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        monkeypatch.setitem(mnist.CHECKSUMS, name, checksum(served / name))
    monkeypatch.setenv("AIGC_DATA_DIR", str(tmp_path / "cache"))
    # The first mirror is down; the second serves the files.
    monkeypatch.setenv("AIGC_MNIST_MIRROR", f"http://127.0.0.1:9/, {url}")
    data = load_mnist()
    np.testing.assert_array_equal(data.images, images)
    np.testing.assert_array_equal(data.labels, labels)
    cached = sorted(p.name for p in (tmp_path / "cache" / "mnist").iterdir())
    assert cached == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    # Cached now: the mirror is not asked again.
    monkeypatch.setenv("AIGC_MNIST_MIRROR", "http://127.0.0.1:9/")
    np.testing.assert_array_equal(load_mnist().images, images)


def test_checksum_mismatch_keeps_nothing(
    tmp_path: Path, mirror: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, served = mirror
    write_set(served, *digits(8))  # not the published bytes: the real checksums cannot match
    monkeypatch.setenv("AIGC_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("AIGC_MNIST_MIRROR", url)
    with pytest.raises(UsageError, match="could not download train-images-idx3-ubyte.gz: .*checksum mismatch"):
        load_mnist()
    assert list((tmp_path / "cache" / "mnist").iterdir()) == []


def test_download_mnist_explicit_urls_and_missing_file(tmp_path: Path, mirror: tuple[str, Path]) -> None:
    url, served = mirror
    served.joinpath("t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x01\x07"))
    sums = {"t10k-labels-idx1-ubyte.gz": checksum(served / "t10k-labels-idx1-ubyte.gz")}
    (path,) = mnist.download_mnist(tmp_path / "d", names=["t10k-labels-idx1-ubyte.gz"], checksums=sums, urls=[url])
    assert read_idx(path).tolist() == [7]
    with pytest.raises(UsageError, match="404"):
        mnist.download_mnist(tmp_path / "d", names=["other.gz"], checksums={"other.gz": sums[path.name]}, urls=[url])
