"""Passwords and tokens masked in any text aigc shows: messages, logs, stored job errors, `aigc config`.

`masked` takes free text, not only a URL: an error message that quotes a database or broker URL, a
traceback, a libpq connection string. Masking is applied where text leaves aigc (the command line's
error line, the server's error answers, the job error written to the store, log records), so a
message that forgot to mask its URL still shows none. Cheap to import: no third-party modules.
"""

from __future__ import annotations

import logging
import re

HIDDEN = "***"

# scheme:// then anything up to whitespace, a quote or the next URL (lists of URLs); the userinfo
# ends at the body's last '@', so a password holding '@' or '/' (unencoded, as people type them) is
# masked whole.
_SCHEME = r"[A-Za-z][A-Za-z0-9+.-]*://"
_URL = re.compile(rf"(?P<scheme>\b{_SCHEME})(?P<body>(?:(?!{_SCHEME})[^\s'\"<>`])+)")
# password=..., token=... as URL query parameters, libpq connection strings or keyword arguments.
_SECRET_KEY = re.compile(
    r"(?i)(?P<key>\b(?:password|passwd|pwd|secret|token|api_key|apikey|access_token|auth)\s*=\s*)"
    r"(?P<quote>['\"]?)(?P<value>[^\s&;,'\"]+)"
)


def masked(text: str) -> str:
    """`text` with every password in a URL's userinfo, and every password=/token= value, shown as ***."""
    if "://" in text:
        text = _URL.sub(_mask_url, text)
    if "=" in text:
        text = _SECRET_KEY.sub(_mask_value, text)
    return text


def _mask_value(match: re.Match[str]) -> str:
    value = match["value"]
    # Punctuation that ends a sentence around the value ("...?password=x: refused") stays shown.
    tail = value[len(value.rstrip(":.)")) :]
    return f"{match['key']}{match['quote']}{HIDDEN}{tail}"


def _mask_url(match: re.Match[str]) -> str:
    body = match["body"]
    at = body.rfind("@")
    if at < 0:
        return match[0]
    user, colon, _password = body[:at].partition(":")
    if not colon:  # a user name alone: kept, as it names whose access failed
        return match[0]
    return f"{match['scheme']}{user}:{HIDDEN}{body[at:]}"


class MaskSecrets(logging.Filter):
    """A logging filter (for handlers) that masks a record's message, arguments and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = masked(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(masked(arg) if isinstance(arg, str) else _masked_object(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: masked(arg) if isinstance(arg, str) else arg for key, arg in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = masked(record.exc_text)
        return True


def _masked_object(arg: object) -> object:
    """An exception (or other object) logged as an argument: its text, masked, if that text changes."""
    if isinstance(arg, (int, float, bool)) or arg is None:
        return arg
    text = str(arg)
    shown = masked(text)
    return shown if shown != text else arg
