"""The text plugin's parts, without a job: tokenizers, streaming with stop strings, windows, schedule, params."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from aigc.plugins.text.params import EvaluateParams, GenerateParams, TrainParams

SAMPLE = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n"


def test_char_tokenizer_round_trips_and_loads_back_with_auto_tokenizer(tmp_path) -> None:
    from transformers import AutoTokenizer

    from aigc.plugins.text import tokenizer as tokenizers

    tok = tokenizers.char_tokenizer(SAMPLE)
    ids = tok(SAMPLE, add_special_tokens=False)["input_ids"]
    assert len(ids) == len(SAMPLE)  # one token per character, newlines and spaces included
    assert tok.decode(ids) == SAMPLE
    assert len(tok) == len(set(SAMPLE)) + 2  # plus <|endoftext|> and <unk>
    unknown = tok("Zé", add_special_tokens=False)["input_ids"]
    assert unknown == [tok.unk_token_id, tok.unk_token_id]

    tokenizers.save(tok, tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert loaded(SAMPLE, add_special_tokens=False)["input_ids"] == ids
    assert loaded.eos_token == "<|endoftext|>" and loaded.decode(ids) == SAMPLE


def test_bpe_tokenizer_encodes_any_text_and_merges_frequent_pairs() -> None:
    from aigc.plugins.text import tokenizer as tokenizers

    tok = tokenizers.bpe_tokenizer(SAMPLE * 20, vocab_size=300)
    text = "Speak, ROMEO — naïve 東京!"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == text  # bytes cover every character: nothing is unknown
    assert len(tok("Speak, speak.", add_special_tokens=False)["input_ids"]) < len("Speak, speak.")


def stream(tokenizer, text: str, stops: list[str]):
    """Feed `text` one token at a time through a Continuation; return it and the pieces it streamed."""
    import torch

    from aigc.plugins.text.streaming import Continuation

    pieces: list[str] = []
    continuation = Continuation(tokenizer, stops, pieces.append)
    continuation.expect_prompt()
    continuation.put(torch.tensor([[1, 2]]))  # the prompt: skipped
    for token in tokenizer(text, add_special_tokens=False)["input_ids"]:
        continuation.put(torch.tensor([token]))
    continuation.finish()
    return continuation, pieces


def test_streaming_cuts_at_a_stop_string_and_never_streams_past_it() -> None:
    from aigc.plugins.text import tokenizer as tokenizers

    tok = tokenizers.char_tokenizer(SAMPLE)
    continuation, pieces = stream(tok, SAMPLE, ["\n\n"])
    assert continuation.stopped
    assert continuation.text == "First Citizen:\nBefore we proceed any further, hear me speak."
    assert "".join(pieces) == continuation.text  # the held-back "\n" never went out

    continuation, pieces = stream(tok, SAMPLE, ["All:", "Speak"])
    assert continuation.text == SAMPLE[: SAMPLE.index("All:")]
    continuation, pieces = stream(tok, SAMPLE, ["nowhere"])
    assert not continuation.stopped and "".join(pieces) == continuation.text == SAMPLE


def test_streaming_holds_back_half_a_character_until_it_is_complete() -> None:
    from aigc.plugins.text import tokenizer as tokenizers

    tok = tokenizers.bpe_tokenizer("plain ascii text " * 50, vocab_size=260)
    text = "a東b"  # 東 is three bytes, so three byte-level tokens
    continuation, pieces = stream(tok, text, [])
    assert "".join(pieces) == continuation.text == text
    assert all("\ufffd" not in piece for piece in pieces)


@pytest.mark.parametrize(("n", "context", "stride"), [(10, 4, 2), (100, 16, 8), (17, 16, 1), (5, 16, 8), (64, 8, 7)])
def test_sliding_windows_score_every_token_once(n: int, context: int, stride: int) -> None:
    from aigc.plugins.text.evaluation import sliding_windows

    windows = sliding_windows(n, context, stride)
    scored = [t for w in windows for t in range(w.first_target, w.end)]
    assert scored == list(range(1, n))  # token 0 is only read
    assert all(w.end - w.start <= context and w.start < w.first_target for w in windows)
    # every scored token sees at least context - stride tokens before it, once the text allows
    assert all(w.first_target - w.start >= min(context - stride, w.first_target) for w in windows)


def test_learning_rate_warms_up_then_decays_to_min_lr() -> None:
    from aigc.plugins.text.training import lr_at

    p = TrainParams(corpus="x", lr=1e-3, min_lr=1e-4, warmup_steps=10)
    rates = [lr_at(step, 110, p) for step in range(110)]
    assert rates[0] < rates[5] < rates[9] < 1e-3
    assert rates[10] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(rates[10:], rates[11:], strict=False))
    assert rates[-1] == pytest.approx(1e-4)


def test_params_reject_inconsistent_values() -> None:
    with pytest.raises(ValidationError, match="must divide n_embd"):
        TrainParams(corpus="x", n_head=5, n_embd=32)
    with pytest.raises(ValidationError, match="cannot be set with base"):
        TrainParams(corpus="x", base="gpt2", n_layer=2)
    with pytest.raises(ValidationError, match="prompt is empty"):
        GenerateParams(prompt="")
    with pytest.raises(ValidationError, match="a prompt is required"):
        GenerateParams()
    with pytest.raises(ValidationError, match="not both"):
        GenerateParams(prompt="a", prompts_file="b")
    with pytest.raises(ValidationError, match="must not be empty"):
        GenerateParams(prompt="a", stop=[""])
    assert GenerateParams(prompt="a", stop="\n").stop == ["\n"]  # one stop string from `-p stop=...`
    with pytest.raises(ValidationError):
        EvaluateParams(corpus="t", split="test")


def test_old_param_names_still_work_for_one_release_with_one_warning_line(caplog: pytest.LogCaptureFixture) -> None:
    old = EvaluateParams.model_validate({"text": "t.txt", "split": "validation", "val_fraction": 0.2})
    assert old == EvaluateParams(corpus="t.txt", split="validation", holdout=0.2)
    assert TrainParams.model_validate({"corpus": "c.txt", "val_fraction": 0.2}).holdout == 0.2
    renamed = "warning: param '{}' is renamed '{}'; the old name stops working in the next release"
    assert [r.getMessage() for r in caplog.records if r.name == "aigc.params"] == [
        renamed.format("text", "corpus"),
        renamed.format("val_fraction", "holdout"),
        renamed.format("val_fraction", "holdout"),
    ]
    with pytest.raises(ValidationError, match="give corpus only: text is its old name"):
        EvaluateParams.model_validate({"text": "a.txt", "corpus": "b.txt"})
    assert "text" not in EvaluateParams.model_json_schema()["properties"]  # the old names are not advertised
