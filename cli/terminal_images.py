"""Images as terminal output: Unicode half-blocks (any terminal), or the kitty, iTerm2 and sixel protocols.

Each function returns the text to write, ending in a newline; none of them asks the terminal anything
(a query would need a reply read back from stdin, which a pipe or a busy shell may never send).
"""

from __future__ import annotations

import base64
from typing import Literal

import numpy as np

Colours = Literal["truecolor", "256", "mono"]

UPPER_HALF = "▀"  # the top pixel in the foreground colour, the bottom one in the background colour
MONO = {(False, False): " ", (True, False): "▀", (False, True): "▄", (True, True): "█"}
KITTY_CHUNK = 4096  # the kitty protocol carries at most 4096 bytes of base64 per escape sequence
RESET = "\x1b[0m"


def halfblocks(pixels: np.ndarray, colours: Colours = "truecolor") -> str:
    """Two pixel rows per text line: uint8 (H, W) grey or (H, W, 3) RGB, an odd last row padded black.

    A colour escape is written only where the colours change, and each line ends with a reset, so
    a line cut by the terminal never leaves its colours behind.
    """
    rgb = _as_rgb(pixels)
    if len(rgb) % 2:
        rgb = np.concatenate([rgb, np.zeros_like(rgb[:1])])
    lines = []
    for top_row, bottom_row in zip(rgb[0::2], rgb[1::2], strict=True):
        if colours == "mono":  # NO_COLOR: a pixel is lit when brighter than mid-grey
            lit_top, lit_bottom = top_row.mean(axis=1) >= 128, bottom_row.mean(axis=1) >= 128
            lines.append("".join(MONO[bool(t), bool(b)] for t, b in zip(lit_top, lit_bottom, strict=True)))
            continue
        parts, last = [], None
        for top, bottom in zip(top_row, bottom_row, strict=True):
            pair = (tuple(int(v) for v in top), tuple(int(v) for v in bottom))
            if pair != last:
                parts.append(_escape(pair[0], pair[1], colours))
                last = pair
            parts.append(UPPER_HALF)
        lines.append("".join(parts) + RESET)
    return "".join(line + "\n" for line in lines)


def kitty(png: bytes, columns: int) -> str:
    """kitty's graphics protocol: transmit and show a PNG `columns` cells wide, in 4096-byte chunks.

    q=2: the terminal sends no reply (a reply would land in the shell's input as stray text).
    """
    data = base64.standard_b64encode(png).decode("ascii")
    chunks = [data[i : i + KITTY_CHUNK] for i in range(0, len(data), KITTY_CHUNK)] or [""]
    parts = []
    for i, chunk in enumerate(chunks):
        more = 1 if i < len(chunks) - 1 else 0
        control = f"a=T,f=100,q=2,c={columns},m={more}" if i == 0 else f"m={more}"
        parts.append(f"\x1b_G{control};{chunk}\x1b\\")
    return "".join(parts) + "\n"


def iterm2(png: bytes, columns: int) -> str:
    """iTerm2's inline image escape (OSC 1337), the PNG shown `columns` cells wide."""
    data = base64.standard_b64encode(png).decode("ascii")
    return f"\x1b]1337;File=inline=1;size={len(png)};width={columns};preserveAspectRatio=1:{data}\x07\n"


def sixel(pixels: np.ndarray, max_colours: int = 64) -> str:
    """DEC sixel: a palette of at most `max_colours`, six pixel rows per band, runs length-encoded."""
    from PIL import Image

    quantized = Image.fromarray(_as_rgb(pixels)).quantize(colors=max_colours)
    index = np.asarray(quantized)
    palette = (quantized.getpalette() or [])[: 3 * max_colours]
    height, width = index.shape
    parts = ["\x1bPq", f'"1;1;{width};{height}']
    used = sorted(int(c) for c in np.unique(index))
    for c in used:
        r, g, b = (round(v * 100 / 255) for v in palette[3 * c : 3 * c + 3])
        parts.append(f"#{c};2;{r};{g};{b}")
    for top in range(0, height, 6):
        band = index[top : top + 6]
        for c in (c for c in used if (band == c).any()):
            bits = sum(((band[k] == c).astype(np.int64) << k) for k in range(len(band)))
            parts.append(f"#{c}{_runs(''.join(chr(63 + int(v)) for v in bits))}$")
        parts.append("-")
    parts.append("\x1b\\")
    return "".join(parts) + "\n"


def _runs(sixels: str) -> str:
    """Sixel run-length encoding: '!N' before a character repeated N (more than 3) times."""
    out, i = [], 0
    while i < len(sixels):
        j = i
        while j < len(sixels) and sixels[j] == sixels[i]:
            j += 1
        n = j - i
        out.append(f"!{n}{sixels[i]}" if n > 3 else sixels[i] * n)
        i = j
    return "".join(out)


def _as_rgb(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype != np.uint8 or pixels.ndim not in (2, 3):
        raise ValueError(f"need uint8 (H, W) or (H, W, C) pixels, got {pixels.dtype} {pixels.shape}")
    if pixels.ndim == 2:
        return np.repeat(pixels[:, :, None], 3, axis=2)
    if pixels.shape[2] == 4:  # RGBA over black
        alpha = pixels[:, :, 3:4].astype(np.uint16)
        return (pixels[:, :, :3].astype(np.uint16) * alpha // 255).astype(np.uint8)
    return pixels[:, :, :3] if pixels.shape[2] >= 3 else np.repeat(pixels[:, :, :1], 3, axis=2)


def _escape(fg: tuple[int, ...], bg: tuple[int, ...], colours: Colours) -> str:
    if colours == "truecolor":
        return f"\x1b[38;2;{fg[0]};{fg[1]};{fg[2]};48;2;{bg[0]};{bg[1]};{bg[2]}m"
    return f"\x1b[38;5;{xterm256(fg)};48;5;{xterm256(bg)}m"


CUBE = (0, 95, 135, 175, 215, 255)  # the six levels of each channel in xterm's 6x6x6 colour cube


def xterm256(rgb: tuple[int, ...]) -> int:
    """The nearest of xterm's 256 colours: the grey ramp (232-255) for greys, else the colour cube."""
    r, g, b = rgb[:3]
    if r == g == b:
        if r < 4:
            return 16  # cube black
        if r > 246:
            return 231  # cube white
        return 232 + min(23, max(0, round((r - 8) / 10)))
    level = [min(range(6), key=lambda i: abs(CUBE[i] - v)) for v in (r, g, b)]
    return 16 + 36 * level[0] + 6 * level[1] + level[2]
