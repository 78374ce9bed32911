"""Job and model ids as people type them: the one parser every command (and the serve forms) goes through.

An id is ASCII digits, from 1 to MAX_ID, the largest id the store holds and the bound the API's
paths check. `str.isdigit()` is not enough: it accepts '²' (which int() refuses) and the
Arabic-Indic '١' (which int() reads as 1, so `jobs show ١` would show job 1).
"""

from __future__ import annotations

import re

from aigc.core.errors import MalformedId
from aigc.core.store.models import MAX_ID

ASCII_DIGITS = re.compile(r"[0-9]+")
ACCEPTED = f"a positive integer such as 42, in ASCII digits, at most {MAX_ID}"
SHOWN_CHARS = 24  # how much of a bad id the message echoes


def parse_id(raw: str | int, noun: str, accepted: str = ACCEPTED) -> int:
    """`raw` as an id of a `noun` (job, model), or MalformedId naming it and saying what is `accepted`."""
    text = str(raw).strip()
    if not ASCII_DIGITS.fullmatch(text):
        raise MalformedId(f"malformed {noun} id {_shown(text)}; a {noun} id is {accepted}")
    digits = text.lstrip("0")
    # Compared as text first: int() refuses strings of more than 4,300 digits.
    if not digits or len(digits) > len(str(MAX_ID)) or int(digits) > MAX_ID:
        raise MalformedId(f"{noun} id {_shown(text)} is out of range; a {noun} id is {accepted}")
    return int(digits)


def _shown(text: str) -> str:
    """The bad id quoted on one line (repr escapes newlines), cut short if it is long."""
    return repr(text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "...")
