"""The Markov chain: count tables for every order 0..k, sampling from them, and scoring text with them.

A text is a sequence of symbol ids (0..V-1, the sorted characters of the training text). The context
of length j before position t is coded as one integer, base V: h = ids[t-j]*V^(j-1) + ... + ids[t-1].
For each order j the chain keeps the sorted unique codes `h*V + next` seen in training and how often
each was seen, so the continuations of a context are one contiguous slice (found by binary search).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

UNKNOWN = -1  # id of a character the chain never saw


@dataclass
class Chain:
    order: int
    vocab: torch.Tensor  # (V,) int64 code points, sorted
    pairs: list[torch.Tensor]  # per order j: (P_j,) int64 sorted codes h*V + next
    counts: list[torch.Tensor]  # per order j: (P_j,) int64 times each pair was seen
    _stats: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = field(default_factory=dict, repr=False)

    @property
    def size(self) -> int:
        return len(self.vocab)

    # -- text <-> ids -----------------------------------------------------------------------------
    def encode(self, text: str) -> torch.Tensor:
        points = torch.tensor([ord(c) for c in text], dtype=torch.int64)
        index = torch.searchsorted(self.vocab, points).clamp(max=self.size - 1)
        known = self.vocab[index] == points
        return torch.where(known, index, torch.full_like(index, UNKNOWN))

    def decode(self, ids: list[int]) -> str:
        return "".join(chr(int(self.vocab[i])) for i in ids)

    # -- saving -----------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, torch.Tensor]:
        state = {"vocab": self.vocab}
        for j in range(self.order + 1):
            # int32 counts halve the file; a count never reaches 2**31 in a corpus that fits in memory
            state[f"pairs.{j}"], state[f"counts.{j}"] = self.pairs[j], self.counts[j].to(torch.int32)
        return state

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor], order: int) -> Chain:
        return cls(
            order,
            state["vocab"],
            [state[f"pairs.{j}"] for j in range(order + 1)],
            [state[f"counts.{j}"].long() for j in range(order + 1)],
        )

    def truncated(self, order: int) -> Chain:
        """The same chain looking back on at most `order` characters (order 0: character frequencies)."""
        return Chain(order, self.vocab, self.pairs[: order + 1], self.counts[: order + 1])

    # -- sampling ---------------------------------------------------------------------------------
    def continuations(self, history: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """(next ids, counts) after the longest known suffix of `history` the chain has seen, up to `order`."""
        known = 0
        while known < min(self.order, len(history)) and history[-1 - known] != UNKNOWN:
            known += 1
        for j in range(known, -1, -1):
            h = context_code(history[len(history) - j :], self.size)
            lo, hi = torch.searchsorted(self.pairs[j], torch.tensor([h * self.size, (h + 1) * self.size])).tolist()
            if hi > lo:
                return self.pairs[j][lo:hi] % self.size, self.counts[j][lo:hi]
        raise AssertionError("order 0 always has continuations")

    def sample(
        self, history: list[int], length: int, generator: torch.Generator, temperature: float = 1.0
    ) -> list[int]:
        """`length` new ids after `history`; the same generator state always gives the same ids."""
        ids = list(history)
        for _ in range(length):
            nexts, counts = self.continuations(ids)
            scaled = counts.double().log() / temperature  # counts ** (1/T), computed where it cannot overflow
            weights = (scaled - scaled.max()).exp()
            ids.append(int(nexts[torch.multinomial(weights, 1, generator=generator)]))
        return ids[len(history) :]

    # -- scoring ----------------------------------------------------------------------------------
    def bits(self, ids: torch.Tensor) -> torch.Tensor:
        """(T,) bits to predict each id from the ones before it, Witten-Bell interpolated over orders.

        The base of the interpolation is uniform over the V characters plus one unknown symbol, so a
        character never seen in training costs a finite number of bits.
        """
        V, T = self.size, len(ids)
        prob = torch.full((T,), 1.0 / (V + 1), dtype=torch.float64)
        safe = ids.clamp(min=0)
        for j in range(self.order + 1):
            if T <= j:
                break
            if len(self.pairs[j]) == 0:  # training text shorter than this order
                continue
            contexts, totals, types = self._context_stats(j)
            h = torch.zeros(T - j, dtype=torch.int64)
            ok = torch.ones(T - j, dtype=torch.bool)
            for i in range(j):  # code of the j ids before each position t >= j
                h = h * V + safe[i : T - j + i]
                ok &= ids[i : T - j + i] != UNKNOWN
            at = torch.searchsorted(contexts, h).clamp(max=len(contexts) - 1)
            seen = ok & (contexts[at] == h)
            pair = h * V + safe[j:]
            where = torch.searchsorted(self.pairs[j], pair).clamp(max=len(self.pairs[j]) - 1)
            hits = (self.pairs[j][where] == pair) & (ids[j:] != UNKNOWN)
            c_hc = torch.where(hits, self.counts[j][where], 0).double()
            c_h, n_h = totals[at].double(), types[at].double()
            lower = prob[j:]
            prob[j:] = torch.where(seen, (c_hc + n_h * lower) / (c_h + n_h), lower)
        return -torch.log2(prob)

    def _context_stats(self, j: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per seen context of length j: its code, how often it was seen, how many distinct next ids."""
        if j not in self._stats:
            contexts, inverse, types = torch.unique_consecutive(
                self.pairs[j] // self.size, return_inverse=True, return_counts=True
            )
            totals = torch.zeros(len(contexts), dtype=torch.int64).index_add_(0, inverse, self.counts[j])
            self._stats[j] = (contexts, totals, types)
        return self._stats[j]


def context_code(ids: list[int], size: int) -> int:
    code = 0
    for i in ids:
        code = code * size + i
    return code


def vocabulary(text: str) -> torch.Tensor:
    return torch.tensor(sorted({ord(c) for c in text}), dtype=torch.int64)


def fits(size: int, order: int) -> bool:
    """Whether codes h*V + next of this order fit in int64."""
    return size ** (order + 1) < 2**63


def count_order(ids: torch.Tensor, j: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sorted unique codes h*V + next for contexts of length j, and how often each occurs."""
    T = len(ids)
    if T <= j:
        return torch.zeros(0, dtype=torch.int64), torch.zeros(0, dtype=torch.int64)
    h = torch.zeros(T - j, dtype=torch.int64)
    for i in range(j):
        h = h * size + ids[i : T - j + i]
    return torch.unique(h * size + ids[j:], sorted=True, return_counts=True)


def config_of(chain: Chain, **extra: Any) -> dict[str, Any]:
    return {"order": chain.order, "vocab_size": chain.size, **extra}
