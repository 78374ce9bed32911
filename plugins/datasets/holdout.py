"""The digits a train or evaluate job holds out of its MNIST data: there must be some left."""

from __future__ import annotations

from aigc.core.plugin_api import JobKind, UsageError

# What the digits left after the held-out ones are for, per job kind.
PURPOSE = {JobKind.train: "to train on; lower it", JobKind.evaluate: "for the real sample"}


def check_holdout(kind: JobKind, holdout: int, count: int) -> None:
    if holdout >= count:
        raise UsageError(f"holdout {holdout} leaves none of the {count} digits {PURPOSE[kind]}")
