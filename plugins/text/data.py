"""Reading a text corpus, splitting off its held-out tail, and sampling training batches from it."""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

import torch

from aigc.core.plugin_api import UsageError, to_device


def corpus_files(spec: str, what: str = "corpus") -> list[Path]:
    """The files a corpus spec names: a file, a folder's *.txt (recursively, sorted), or a glob (sorted).

    `what` names the param in errors (corpus, validation)."""
    path = Path(spec).expanduser()
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file())
        if not files:
            raise UsageError(
                f"{what} folder {spec} holds no .txt files; give a text file, a folder of .txt files or a glob"
            )
        return files
    if glob.has_magic(spec):
        files = sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
        if not files:
            raise UsageError(f"{what} glob '{spec}' matches no files")
        return files
    raise UsageError(f"{what} {spec} not found; give a text file, a folder of .txt files or a glob")


def read_text(path: Path) -> str:
    """A file's text, refusing anything that is not valid UTF-8 (with the byte offset, to find it)."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{path} is not UTF-8 text (invalid byte at offset {exc.start}); convert it to UTF-8"
        ) from None


def read_corpus(spec: str, separator: str, what: str = "corpus") -> str:
    """All the corpus files' text, documents joined by `separator` (the tokenizer's end-of-text token)."""
    texts = [read_text(path) for path in corpus_files(spec, what)]
    text = separator.join(t for t in texts if t)
    if not text.strip():
        raise UsageError(f"{what} {spec} is empty: it holds no text")
    return text


def split_tail(text: str, holdout: float) -> tuple[str, str]:
    """(train, held out): the held-out text is the last `holdout` fraction of the characters."""
    cut = len(text) - int(len(text) * holdout)
    return text[:cut], text[cut:]


def encode(tokenizer: object, text: str) -> torch.Tensor:
    """The token ids of `text` as one long tensor (no special tokens added)."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]  # type: ignore[operator]
    return torch.tensor(ids, dtype=torch.long)


@dataclass
class Batches:
    """Random windows of a token stream, nanoGPT style: x is `context` tokens, y the same shifted by one.

    The generator is reseeded from (seed, step), so a resumed job draws exactly the batches it would have.
    """

    tokens: torch.Tensor  # (N,): on the training device if it fits there (`place_data`), else pinned
    context: int
    batch_size: int
    seed: int
    device: str | None = None  # where batches go; None: where the tokens are

    def __post_init__(self) -> None:
        if len(self.tokens) < self.context + 1:
            raise ValueError("too few tokens")
        self._generator = torch.Generator()
        self._offsets = torch.arange(self.context + 1)

    def get(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        self._generator.manual_seed((self.seed * 1_000_003 + step) % 2**63)
        starts = torch.randint(len(self.tokens) - self.context, (self.batch_size,), generator=self._generator)
        windows = self.tokens[(starts[:, None] + self._offsets).to(self.tokens.device)]  # (B, T+1)
        if self.device is not None:
            windows = to_device(windows, self.device)
        return windows[:, :-1], windows[:, 1:]
