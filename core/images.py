"""PNG encoding with metadata in text chunks, and contact sheets, for image plugins."""

from __future__ import annotations

import io
import json
import math
import struct
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image, PngImagePlugin


def encode_png(pixels: np.ndarray, metadata: Mapping[str, Any] | None = None) -> bytes:
    """uint8 pixels (H, W) grey or (H, W, 3) RGB to PNG bytes; metadata goes into tEXt chunks.

    Encoding is deterministic: the same pixels and metadata always give the same bytes.
    """
    if pixels.dtype != np.uint8:
        raise ValueError(f"encode_png needs uint8 pixels, got {pixels.dtype}")
    info = PngImagePlugin.PngInfo()
    for key, value in (metadata or {}).items():
        info.add_text(str(key), value if isinstance(value, str) else json.dumps(value))
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", pnginfo=info, compress_level=6)
    return buffer.getvalue()


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_END = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_grey_png(pixels: np.ndarray, metadata: Mapping[str, Any] | None = None) -> bytes:
    """uint8 pixels (H, W) to PNG bytes like `encode_png`'s, about 6x faster for small images.

    Pillow spends most of a 28x28 image's encode in per-call set-up; for 10,000 digits that is most of
    a generate job. This writes greyscale, 8 bits, no interlace, filter 0, zlib level 6, one tEXt chunk
    per metadata key (values as `encode_png` writes them), and is deterministic.
    """
    if pixels.dtype != np.uint8 or pixels.ndim != 2:
        raise ValueError(f"encode_grey_png needs (H, W) uint8 pixels, got {pixels.dtype} {pixels.shape}")
    height, width = pixels.shape
    rows = np.zeros((height, width + 1), dtype=np.uint8)  # each scanline starts with filter type 0
    rows[:, 1:] = pixels
    parts = [PNG_SIGNATURE, _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))]
    for key, value in (metadata or {}).items():
        text = value if isinstance(value, str) else json.dumps(value)
        parts.append(_png_chunk(b"tEXt", str(key).encode("latin-1") + b"\0" + text.encode("latin-1")))
    parts.append(_png_chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)))
    parts.append(PNG_END)
    return b"".join(parts)


def read_png_text(png: bytes) -> dict[str, str]:
    """The text chunks of a PNG as written by `encode_png`: a plugin's metadata, without the provenance
    label every stored result also carries (aigc.core.provenance reads that)."""
    from aigc.core.provenance import LABEL_KEY, XMP_KEY

    with Image.open(io.BytesIO(png)) as image:
        image.load()
        text = dict(getattr(image, "text", {}))
    return {key: value for key, value in text.items() if key not in (LABEL_KEY, XMP_KEY)}


def contact_sheet(images: Sequence[np.ndarray] | np.ndarray, columns: int | None = None, pad: int = 2) -> np.ndarray:
    """Tile equally sized uint8 images into one grid with `pad` pixels of black between them."""
    batch = np.asarray(images)
    if batch.ndim not in (3, 4) or len(batch) == 0:
        raise ValueError("contact_sheet needs a non-empty batch of (H, W) or (H, W, C) images")
    n, h, w = batch.shape[:3]
    cols = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    sheet = np.zeros((rows * (h + pad) + pad, cols * (w + pad) + pad, *batch.shape[3:]), dtype=np.uint8)
    for i, image in enumerate(batch):
        r, c = divmod(i, cols)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        sheet[top : top + h, left : left + w] = image
    return sheet


def decode_png(png: bytes) -> np.ndarray:
    """PNG bytes to uint8 pixels, (H, W) grey or (H, W, C)."""
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image)


def sheet_png(pngs: Sequence[bytes], limit: int = 1024) -> bytes:
    """A contact sheet of the first `limit` equally sized PNGs, as PNG bytes (`aigc results`' grid.png)."""
    return encode_png(contact_sheet([decode_png(p) for p in pngs[:limit]]))
