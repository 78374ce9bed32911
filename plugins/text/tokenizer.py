"""Tokenizers trained on a corpus, wrapped as `transformers` fast tokenizers.

Both kinds are `tokenizers` pipelines inside a `PreTrainedTokenizerFast`, so `save_pretrained` writes a
`tokenizer.json` that `AutoTokenizer.from_pretrained(folder)` loads with no aigc code.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

# One special token marks document boundaries and doubles as bos/eos/pad, as in GPT-2.
EOS = "<|endoftext|>"
UNK = "<unk>"


def char_tokenizer(text: str) -> PreTrainedTokenizerFast:
    """One token per character seen in `text` (sorted), plus EOS and an UNK for characters never seen."""
    chars = sorted(set(text) - {EOS})
    vocab = {token: index for index, token in enumerate([EOS, UNK, *chars])}
    pipeline = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    # Every character is its own "word" ([\s\S] also matches newlines); Fuse joins them back with no spaces.
    pipeline.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    pipeline.decoder = decoders.Fuse()
    pipeline.add_special_tokens([EOS, UNK])
    return _wrap(pipeline, unk=UNK)


def bpe_tokenizer(text: str, vocab_size: int) -> PreTrainedTokenizerFast:
    """Byte-level BPE (GPT-2's scheme) trained on `text`: any string encodes, no UNK is needed."""
    pipeline = Tokenizer(models.BPE())
    pipeline.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    pipeline.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    pipeline.train_from_iterator(_chunks(text), trainer=trainer, length=None)
    return _wrap(pipeline, unk=None)


def _chunks(text: str, size: int = 1 << 16) -> Iterator[str]:
    for start in range(0, len(text), size):
        yield text[start : start + size]


def _wrap(pipeline: Tokenizer, unk: str | None) -> PreTrainedTokenizerFast:
    return PreTrainedTokenizerFast(
        tokenizer_object=pipeline,
        bos_token=EOS,
        eos_token=EOS,
        pad_token=EOS,
        unk_token=unk,
        clean_up_tokenization_spaces=False,
    )


def from_json(serialized: str) -> PreTrainedTokenizerFast:
    """Rebuild a tokenizer from `to_json` (a resumed training job keeps the tokenizer it started with)."""
    pipeline = Tokenizer.from_str(serialized)
    unk = UNK if pipeline.token_to_id(UNK) is not None else None
    return _wrap(pipeline, unk=unk)


def to_json(tokenizer: PreTrainedTokenizerFast) -> str:
    return tokenizer.backend_tokenizer.to_str()


def save(tokenizer: PreTrainedTokenizerFast, folder: Path) -> None:
    tokenizer.save_pretrained(folder)
    # transformers 5 names the class TokenizersBackend; the older alias loads in 4.x and 5.x alike.
    config_path = folder / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    if config.get("tokenizer_class") == "TokenizersBackend":
        config["tokenizer_class"] = "PreTrainedTokenizerFast"
        config_path.write_text(json.dumps(config, indent=2) + "\n")
