"""A job's images in the terminal it was started from: which way the terminal understands, and what fits.

Detection is conservative and asks the terminal nothing: kitty's graphics protocol when TERM or
KITTY_WINDOW_ID says kitty, iTerm2's inline images when TERM_PROGRAM says iTerm2, sixel only when
AIGC_PREVIEW=sixel asks for it, and Unicode half-blocks everywhere else (terminal multiplexers
included, which drop image escapes). Nothing is previewed when stdout is not a terminal.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal, TextIO

import numpy as np

if TYPE_CHECKING:
    from aigc.cli.terminal_images import Colours
    from aigc.core.store import Result

Mode = Literal["kitty", "iterm", "sixel", "blocks"]

PAD = 1  # black pixels between half-block tiles
MAX_LINES = 32  # a preview never takes more text lines than this, however tall the window
MAX_COLUMNS = 64  # nor, for the image protocols, more cells across
ENOUGH_TILES = 8  # half-blocks: shrink the tiles until this many of them fit (or all there are)


def terminal_mode(stream: TextIO | None = None, env: Mapping[str, str] | None = None) -> Mode | None:
    """How to show images on `stream` (stdout), or None: not a terminal, TERM=dumb, or AIGC_PREVIEW=off."""
    from aigc.core.config import environment

    stream = stream or sys.stdout
    env = os.environ if env is None else env
    setting = environment().preview
    term = env.get("TERM", "")
    if setting == "off" or term == "dumb" or not stream.isatty():
        return None
    if setting != "auto":
        return setting
    if env.get("TMUX") or term.startswith(("screen", "tmux")):
        return "blocks"
    if term == "xterm-kitty" or env.get("KITTY_WINDOW_ID"):
        return "kitty"
    if env.get("TERM_PROGRAM") == "iTerm.app":
        return "iterm"
    return "blocks"


def colours(env: Mapping[str, str] | None = None) -> Colours:
    """Half-block colours: none under NO_COLOR, 24-bit when COLORTERM says so, else xterm's 256."""
    env = os.environ if env is None else env
    if env.get("NO_COLOR"):
        return "mono"
    return "truecolor" if env.get("COLORTERM", "").lower() in ("truecolor", "24bit") else "256"


def show(rows: Sequence[Result], mode: Mode, stream: TextIO | None = None) -> str | None:
    """Preview a job's images on `stream`; returns what was shown ("preview: 10 of 64 images"), or None.

    The items when there are any (the contact sheet of them, or as many tiles as fit in half-blocks),
    else the job's last image (a training run's newest sample sheet).
    """
    from aigc.cli import terminal_images
    from aigc.core.images import decode_png, sheet_png

    stream = stream or sys.stdout
    images = [r.data for r in rows if r.kind == "image" and r.data]
    items = [r.data for r in rows if r.kind == "image" and r.role == "item" and r.data]
    if not images:
        return None
    size = shutil.get_terminal_size()
    width, lines = size.columns, max(8, min(size.lines - 4, MAX_LINES))
    shown = len(items) if items else 1
    if mode == "blocks":
        text, shown = tiles(items or images[-1:], width, lines, colours())
    else:
        grid = next((r.data for r in rows if r.kind == "image" and r.role == "grid" and r.data), None)
        png = grid or (sheet_png(items) if items else images[-1])
        pixels = decode_png(png)
        columns = max(8, min(width - 1, MAX_COLUMNS, math.ceil(pixels.shape[1] / 4)))
        if mode == "kitty":
            text = terminal_images.kitty(png, columns)
        elif mode == "iterm":
            text = terminal_images.iterm2(png, columns)
        else:  # sixel shows pixels as they are: enlarge small images so a digit is not a speck
            text = terminal_images.sixel(enlarge(pixels, max(1, min(4, 400 // pixels.shape[1]))))
    stream.write(text)
    stream.flush()
    total = len(items) if items else 1
    return f"preview: {shown} of {total} images" if shown < total else f"preview: {total} image{'s' * (total > 1)}"


def tiles(pngs: Sequence[bytes], width: int, lines: int, colour: Colours) -> tuple[str, int]:
    """As many images as fit `width` cells by `lines` lines, in half-blocks; returns (text, how many).

    Tiles are shown at full size when ENOUGH_TILES of them fit, else at a half or a third, whichever
    shows enough (box-averaged: 28x28 digits stay legible at 14x14), else whichever shows most.
    """
    from aigc.cli.terminal_images import halfblocks
    from aigc.core.images import contact_sheet, decode_png

    first = decode_png(pngs[0])
    height_px, width_px = first.shape[:2]
    layouts = []  # (how many fit, scale, tiles across), largest tiles first
    for scale in (1, 2, 3):
        across = (width - PAD) // (math.ceil(width_px / scale) + PAD)
        down = (2 * lines - PAD) // (math.ceil(height_px / scale) + PAD)
        layouts.append((min(len(pngs), across * down), scale, across))
    enough = min(len(pngs), ENOUGH_TILES)
    fits, scale, across = next((lay for lay in layouts if lay[0] >= enough), max(layouts, key=lambda lay: lay[0]))
    arrays = [first, *(decode_png(p) for p in pngs[1:fits])]
    if fits < 2 or any(a.shape != first.shape for a in arrays):  # one image (or unequal ones): fit the first
        scale = max(1, math.ceil(width_px / width), math.ceil(height_px / (2 * lines)))
        return halfblocks(shrink(first, scale), colour), 1
    sheet = contact_sheet([shrink(a, scale) for a in arrays], columns=min(across, fits), pad=PAD)
    return halfblocks(sheet, colour), fits


def shrink(pixels: np.ndarray, factor: int) -> np.ndarray:
    """Box-average `factor` x `factor` blocks (edges padded by repeating the last row and column)."""
    if factor <= 1:
        return pixels
    height, width = pixels.shape[:2]
    pad_h, pad_w = -height % factor, -width % factor
    padding = [(0, pad_h), (0, pad_w)] + [(0, 0)] * (pixels.ndim - 2)
    padded = np.pad(pixels, padding, mode="edge").astype(np.float32)
    blocks = padded.reshape(padded.shape[0] // factor, factor, padded.shape[1] // factor, factor, *pixels.shape[2:])
    return np.round(blocks.mean(axis=(1, 3))).astype(np.uint8)


def enlarge(pixels: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement by a whole factor (sharp pixels, no blur)."""
    return pixels if factor <= 1 else np.repeat(np.repeat(pixels, factor, axis=0), factor, axis=1)
