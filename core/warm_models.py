"""Models kept loaded in a process between jobs: a bounded LRU keyed by (model digest, device, precision).

A worker runs job after job; back-to-back generate jobs on one model should not read, build and move
it to the GPU each time. `AIGC_MODEL_CACHE` bounds it by a count of models (default 2) or by size
("2000MB": parameters and buffers), 0 turns it off. A job only reads a cached model (generate and
evaluate put it in eval mode and never train it). The runner empties it when a job runs out of GPU
memory, so the next job starts with the memory free.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, TypeVar

T = TypeVar("T")
Key = tuple[str, str, str]


@dataclass(frozen=True)
class Limit:
    count: int | None  # at most this many models, or
    megabytes: int | None  # at most this many MB of parameters and buffers

    @classmethod
    def parse(cls, text: str) -> Limit:
        match = re.fullmatch(r"([0-9]+)( ?MB)?", text.strip())
        if match is None:
            raise ValueError(f"model cache limit {text!r} is neither a count nor a size such as 2000MB")
        number = int(match.group(1))
        return cls(None, number) if match.group(2) else cls(number, None)

    @property
    def off(self) -> bool:
        return self.count == 0 or self.megabytes == 0


class ModelCache:
    def __init__(self, limit: Limit) -> None:
        self.limit = limit
        self._entries: OrderedDict[Key, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get_or_load(self, key: Key, load: Callable[[], T]) -> T:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return entry[0]
        self.misses += 1
        value = load()
        if self.limit.off:
            return value
        size = nbytes(value)
        with self._lock:
            self._entries[key] = (value, size)
            self._entries.move_to_end(key)
            self._evict()
        return value

    def _evict(self) -> None:
        count, megabytes = self.limit.count, self.limit.megabytes
        while self._entries and (
            (count is not None and len(self._entries) > count)
            or (megabytes is not None and self.total_bytes() > megabytes * 1_000_000 and len(self._entries) > 1)
        ):
            self._entries.popitem(last=False)
        if megabytes is not None and self.total_bytes() > megabytes * 1_000_000:
            self._entries.clear()  # one model larger than the whole cache is not kept

    def total_bytes(self) -> int:
        return sum(size for _, size in self._entries.values())

    def keys(self) -> list[Key]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def nbytes(value: Any) -> int:
    """Bytes of parameters and buffers in a module, or in the modules a tuple or dataclass holds."""
    import torch

    if isinstance(value, torch.nn.Module):
        tensors = [*value.parameters(), *value.buffers()]
        return sum(t.numel() * t.element_size() for t in tensors)
    if isinstance(value, (tuple, list)):
        return sum(nbytes(v) for v in value)
    if is_dataclass(value) and not isinstance(value, type):
        return sum(nbytes(getattr(value, f.name)) for f in fields(value))
    return 0


_cache: ModelCache | None = None


def model_cache() -> ModelCache:
    """This process's cache, sized by AIGC_MODEL_CACHE when first used."""
    global _cache
    if _cache is None:
        from aigc.core.config import environment

        _cache = ModelCache(Limit.parse(environment().model_cache))
    return _cache


def warm_model(sha256: str, device: str, precision: str, load: Callable[[], T]) -> T:
    """The model `load()` builds for (digest, device, precision), from this process's cache when there."""
    return model_cache().get_or_load((sha256, device, precision), load)


def free_models() -> None:
    """Drop every cached model and give the GPU's cached blocks back (after an out-of-memory error)."""
    if _cache is not None:
        _cache.clear()
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        import gc

        gc.collect()
        torch.cuda.empty_cache()
