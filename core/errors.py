"""Typed errors of the core. The CLI turns each into one line on stderr and an exit code."""

from __future__ import annotations


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name if it has none), for one-line errors.

    A SQLAlchemy DBAPIError wraps the driver's exception as `orig`, whose message is the one that
    says what went wrong; its own message adds the SQL statement below.
    """
    cause = getattr(exc, "orig", None) or exc
    text = str(cause).strip()
    return text.splitlines()[0] if text else type(cause).__name__


# The most of a value an error message quotes: a 5 MB param must not come back as a 5 MB message.
EXCERPT_CHARS = 80


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """`repr(value)`, at most about `limit` characters: a longer one is cut, and "…" says so."""
    if isinstance(value, str) and len(value) > limit:
        return repr(value[:limit]) + "…"  # cut before repr: no copy of a huge string
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


class AigcError(Exception):
    """Base of every error the core raises on purpose."""

    exit_code = 1


class UsageError(AigcError):
    """The caller asked for something that cannot be done as asked (exit code 2)."""

    exit_code = 2


class InvalidSetting(UsageError):
    """An AIGC_* variable holds a value aigc cannot use; the message names it and what it accepts."""


class UnknownPlugin(UsageError):
    def __init__(self, name: str, available: list[str]) -> None:
        listed = ", ".join(sorted(available)) or "none installed"
        super().__init__(f"unknown plugin '{name}'; available: {listed}")


class BrokenPlugin(UsageError):
    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"plugin '{name}' is broken: {reason}")


class InvalidParams(UsageError):
    """A job's params failed validation against the plugin's param model."""


class UnknownJob(UsageError):
    def __init__(self, job_id: int) -> None:
        super().__init__(f"no job with id {job_id}")


class UnknownSweep(UsageError):
    def __init__(self, sweep_id: int) -> None:
        super().__init__(f"no sweep with id {sweep_id}; see `aigc sweeps list`")


class MalformedId(UsageError):
    """A job or model id that is not ASCII digits, or beyond the largest id the store holds."""


class UnknownModel(UsageError):
    """A model id that names no stored model of the plugin."""


class StoreUnavailable(AigcError):
    """The database cannot be reached or opened (exit code 2: it is a configuration problem)."""

    exit_code = 2


class ArtifactCorrupt(AigcError):
    """An artifact's bytes no longer match the sha256 it was stored under."""


class BrokerUnavailable(AigcError):
    """The message broker cannot be reached."""

    exit_code = 2


class LeaseLapsed(AigcError):
    """A running job's lease lapsed and, without a broker, nothing will pick it up: waiting would never end."""


class OutcomeNotRecorded(AigcError):
    """An attempt ended but the store refused its final write; the job's lease lapses, then it can be resumed."""


class Interrupted(AigcError):
    """An embedded run stopped by a signal (Ctrl-C: exit 130, SIGTERM: 143); its job was recorded `cancelled`."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class JobCancelled(Exception):
    """Raised inside a running job when its cancellation was requested.

    Not an AigcError: plugins must let it propagate, and the runner ends the job `cancelled`.
    """


class LeaseLost(Exception):
    """Raised inside a running job when another attempt has taken the job over."""


class NotAllowed(UsageError):
    """The caller's token may not do this (a job of another token's, an admin-only action): HTTP 403."""


class OverLimit(UsageError):
    """A token's limit refuses the request: 429 for too many jobs at once, 413 for too large a request."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class Unauthorized(UsageError):
    """The server refused the token (HTTP 401): none sent, a wrong one, or a revoked one."""


class ServerUnreachable(AigcError):
    """The `aigc serve` of AIGC_SERVER_URL cannot be reached (exit code 2: a configuration problem)."""

    exit_code = 2


class JobTimedOut(Exception):
    """Raised inside a running job at the first progress point past its timeout; the job ends `failed`
    with this message, and no retry runs it again."""
