"""The markov plugin's own tests: real jobs against a temporary store, through `aigc.core.plugin_api.run_job`.

Run them after `pip install -e .` (the plugin is found through its entry point): `pytest`.
"""

from __future__ import annotations

from pathlib import Path

from aigc.core.plugin_api import run_job

VERSES = [
    "the cat sat on the mat and the dog sat on the log.",
    "a bird in the hand is worth two in the bush.",
    "the rain in spain stays mainly in the plain.",
    "all that glitters is not gold, said the old cat.",
]


def corpus(folder: Path, lines: int = 400) -> str:
    path = folder / "corpus.txt"
    path.write_text("\n".join(VERSES[i % len(VERSES)] for i in range(lines)) + "\n")
    return str(path)


def test_train_counts_every_order_and_beats_character_frequencies(tmp_path: Path) -> None:
    text = corpus(tmp_path)
    trained = run_job("markov", "train", {"corpus": text, "order": 3}, tmp_path)
    assert trained.job.status == "succeeded", trained.job.error
    [model] = trained.models
    assert model.config["order"] == 3
    curve = [value for key, _, value in trained.metrics if key == "val/bits_per_char"]
    assert len(curve) == 4 and curve == sorted(curve, reverse=True)  # more context, fewer bits

    scored = run_job("markov", "evaluate", {"corpus": text, "model": str(model.id)}, tmp_path)
    assert scored.job.status == "succeeded", scored.job.error
    assert scored.summary["bits_per_char"] < 0.5 * scored.summary["baseline_bits_per_char"]


def test_same_seed_writes_the_same_text(tmp_path: Path) -> None:
    run_job("markov", "train", {"corpus": corpus(tmp_path), "order": 2}, tmp_path)
    params = {"n": 2, "length": 60, "prompt": "the ", "seed": 7}
    first = run_job("markov", "generate", params, tmp_path)
    again = run_job("markov", "generate", params, tmp_path)
    texts = [r.text for r in first.items]
    assert [r.text for r in again.items] == texts
    assert [r.seed for r in first.items] == [7, 8]
    assert all(t.startswith("the ") and len(t) == 64 for t in texts)
    assert set("".join(texts)) <= set("".join(VERSES) + "\n")


def test_bundled_model_writes_without_training(tmp_path: Path) -> None:
    outcome = run_job("markov", "generate", {"n": 1, "length": 80, "seed": 1}, tmp_path)
    assert outcome.job.status == "succeeded", outcome.job.error
    assert outcome.summary["model"] == "default"
    assert len(outcome.items[0].text) == 80


def test_missing_corpus_fails_with_one_clear_line(tmp_path: Path) -> None:
    outcome = run_job("markov", "train", {"corpus": str(tmp_path / "nope.txt")}, tmp_path)
    assert outcome.job.status == "failed"
    assert outcome.job.error == f"corpus {tmp_path / 'nope.txt'} is not a file; give a UTF-8 text file"
