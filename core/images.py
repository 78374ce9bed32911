"""PNG encoding with metadata in text chunks, and contact sheets, for image plugins."""

from __future__ import annotations

import io
import json
import math
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


def read_png_text(png: bytes) -> dict[str, str]:
    """The tEXt chunks of a PNG, as written by `encode_png`."""
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        return dict(getattr(image, "text", {}))


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
