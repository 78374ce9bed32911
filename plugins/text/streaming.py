"""Following a sequence as `model.generate` produces it: live text, stop strings, incomplete characters.

`Continuation` is a `transformers` streamer: generate hands it each new token; it keeps the decoded
text, sends what is safe to show to a callback (`ctx.stream`), and notices stop strings. Text that might
be the start of a stop string, or half of a multi-byte character, is held back until it is settled,
so what streams is exactly the text the job records.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

import torch
from transformers import StoppingCriteria
from transformers.generation.streamers import BaseStreamer


class Continuation(BaseStreamer):
    def __init__(self, tokenizer: Any, stops: Sequence[str], on_text: Callable[[str], None]) -> None:
        self.tokenizer = tokenizer
        self.stops = list(stops)
        self.on_text = on_text
        self.ids: list[int] = []
        self.settled = ""  # text of ids[:anchor], never decoded again
        self.anchor = 0
        self.text = ""  # all the text generated so far (cut before a stop string once one is found)
        self.shown = 0  # characters of `text` already sent to on_text
        self.stopped = False
        self._skip_prompt = False

    def expect_prompt(self) -> None:
        """generate first puts the whole input; the next `put` is that, not new tokens."""
        self._skip_prompt = True

    def put(self, value: torch.Tensor) -> None:
        if self._skip_prompt:
            self._skip_prompt = False
            return
        if self.stopped:
            return
        self.ids.extend(int(i) for i in value.reshape(-1).tolist())
        # Decode only since the last newline: tokenizers that drop a leading space at the start of a
        # decode (SentencePiece) stay right, and each step costs a line, not the whole text.
        tail = self.tokenizer.decode(self.ids[self.anchor :], skip_special_tokens=True)
        before = len(self.text)
        self.text = self.settled + tail
        if tail.endswith("\n"):
            self.settled, self.anchor = self.text, len(self.ids)
        self._find_stop(before)
        self._show(final=self.stopped)

    def end(self) -> None:
        """Called at the end of each generate call; a long sequence spans several, so nothing ends here."""

    def finish(self) -> None:
        """Send whatever was held back: the sequence is over."""
        self._show(final=True)

    def _find_stop(self, before: int) -> None:
        if not self.stops:
            return
        longest = max(len(s) for s in self.stops)
        start = max(0, before - longest)
        hits = [i for i in (self.text.find(s, start) for s in self.stops) if i >= 0]
        if hits:
            self.text = self.text[: min(hits)]
            self.stopped = True

    def _show(self, final: bool) -> None:
        end = len(self.text)
        if not final:
            end -= self._held_back()
        if end > self.shown:
            self.on_text(self.text[self.shown : end])
            self.shown = end

    def _held_back(self) -> int:
        """Characters at the end that may still change: a replacement char (half a UTF-8 sequence)
        or the beginning of a stop string."""
        if self.text.endswith("\ufffd"):
            return len(self.text) - len(self.text.rstrip("\ufffd"))
        for size in range(min(len(self.text), max((len(s) for s in self.stops), default=1) - 1), 0, -1):
            suffix = self.text[-size:]
            if any(s.startswith(suffix) for s in self.stops):
                return size
        return 0


class StopWhen(StoppingCriteria):
    """Ends generate when the continuation found a stop string, and gives the job a chance to be cancelled."""

    def __init__(self, continuation: Continuation, tick: Callable[[], None]) -> None:
        self.continuation = continuation
        self.tick = tick

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        self.tick()
        done = self.continuation.stopped
        return cast(
            torch.BoolTensor, torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)
        )
