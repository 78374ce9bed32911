"""The text plugin's three jobs, run for real through `run_job`: a tiny GPT-2 trained on a few KB of text."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from aigc.core.errors import InvalidParams, UsageError
from aigc.core.runner import run_job as run_attempt
from aigc.core.testing import JobOutcome, outcome_of, run_job, submit, temporary_settings

TINY = {"n_layer": 1, "n_head": 2, "n_embd": 32, "context": 32, "batch_size": 8, "lr": 3e-3, "warmup_steps": 5}
STEPS = 40
TRAIN = {**TINY, "steps": STEPS, "eval_every": 20, "eval_batches": 2, "checkpoint_every": 20, "seed": 3}


def write_corpus(path: Path, lines: int = 200) -> Path:
    """A few KB of simple, learnable English-like lines."""
    rng = random.Random(0)
    names = ["ROMEO", "JULIET", "NURSE", "FRIAR"]
    words = "the night is young and the moon is bright so speak to me of love and of sorrow".split()
    text = "".join(f"{rng.choice(names)}:\n{' '.join(rng.choices(words, k=8))}.\n\n" for _ in range(lines))
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class Trained:
    corpus: Path
    outcome: JobOutcome

    @property
    def folder(self) -> Path:
        (model,) = self.outcome.models
        return self.outcome.settings.artifacts / model.sha256[:2] / model.sha256


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    folder = tmp_path_factory.mktemp("text")
    corpus = write_corpus(folder / "corpus.txt")
    outcome = run_job("text", "train", {**TRAIN, "corpus": str(corpus)}, folder / "store")
    assert outcome.job.status == "succeeded", outcome.job.error
    return Trained(corpus, outcome)


def job(trained: Trained, kind: str, params: dict[str, object], check_here: bool | None = None) -> JobOutcome:
    return run_job("text", kind, params, settings=trained.outcome.settings, check_here=check_here)


def failure(trained: Trained, kind: str, params: dict[str, object], *, refused_at_submit: bool = False) -> str:
    """The one line a bad job fails with. `refused_at_submit`: the plugin's check sees the fault, so an
    embedded submit refuses the job (nothing stored), and a job stored unchecked, as a queued one is,
    fails with the same line when it runs."""
    if refused_at_submit:
        with pytest.raises(UsageError) as refused:
            submit(trained.outcome.settings, "text", kind, params)
    outcome = job(trained, kind, params, check_here=False if refused_at_submit else None)
    assert outcome.job.status == "failed"
    assert "\n" not in outcome.job.error.strip(), outcome.job.error  # a one-line UsageError, no traceback
    if refused_at_submit:
        assert outcome.job.error == str(refused.value)
    return outcome.job.error


# -- train -------------------------------------------------------------------------------------
def test_train_reports_curves_and_registers_a_hugging_face_model(trained: Trained) -> None:
    outcome = trained.outcome
    curves: dict[str, list[tuple[int, float]]] = {}
    for key, step, value in outcome.metrics:
        curves.setdefault(key, []).append((step, value))
    assert [step for step, _ in curves["val/loss"]] == [20, 40]
    assert [step for step, _ in curves["train/loss"]] == list(range(10, STEPS + 1, 10))
    assert all(value > 0 for _, value in curves["train/tokens_per_s"])
    first, last = curves["train/loss"][0][1], curves["train/loss"][-1][1]
    assert last < first < math.log(outcome.models[0].config["vocab_size"]) + 0.5  # it learned something
    (model,) = outcome.models
    assert model.format == "hf"
    assert model.config["tokenizer"] == "char" and model.config["context"] == 32
    assert model.metrics["val_loss"] == pytest.approx(curves["val/loss"][-1][1])
    assert outcome.summary["steps"] == STEPS and outcome.summary["parameters"] == model.config["parameters"]


def test_saved_model_loads_with_plain_transformers(trained: Trained) -> None:
    script = f"""
import sys, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
model = AutoModelForCausalLM.from_pretrained({str(trained.folder)!r})
tok = AutoTokenizer.from_pretrained({str(trained.folder)!r})
ids = tok("ROMEO:", return_tensors="pt").input_ids
out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=5, do_sample=False)
assert out.shape == (1, ids.shape[1] + 5), out.shape
assert tok.decode(out[0]).startswith("ROMEO:")
assert not any(name.startswith("aigc") for name in sys.modules)
print(type(model).__name__, type(tok).__name__)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[0] == "GPT2LMHeadModel"
    assert sorted(p.name for p in trained.folder.iterdir()) == [
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    ]


def test_interrupted_training_resumes_to_the_same_model(trained: Trained, tmp_path: Path) -> None:
    settings = temporary_settings(tmp_path)
    job_id = submit(settings, "text", "train", {**TRAIN, "corpus": str(trained.corpus)}, retries=1)

    def die_after_first_checkpoint(report: object) -> None:
        if report.done > 20:
            raise RuntimeError("worker died")

    assert run_attempt(job_id, settings=settings, on_progress=die_after_first_checkpoint) == "queued"
    time.sleep(2.1)  # the retry backoff after a first failure
    assert run_attempt(job_id, settings=settings) == "succeeded"
    resumed = outcome_of(settings, job_id)
    assert resumed.job.attempts == 2
    keys = [(key, step) for key, step, _ in resumed.metrics]
    assert len(keys) == len(set(keys)) == len(trained.outcome.metrics)
    assert resumed.models[0].sha256 == trained.outcome.models[0].sha256  # bit for bit the same folder


def test_bpe_tokenizer_and_epochs(trained: Trained) -> None:
    outcome = job(
        trained,
        "train",
        {
            **TINY,
            "corpus": str(trained.corpus),
            "tokenizer": "bpe",
            "vocab_size": 300,
            "epochs": 0.5,
            "eval_every": 5,
            "eval_batches": 1,
        },
    )
    assert outcome.job.status == "succeeded", outcome.job.error
    (model,) = outcome.models
    assert model.config["tokenizer"] == "bpe" and 257 < model.config["vocab_size"] <= 300
    assert 1 <= model.config["steps"] < 20  # half a pass over far fewer BPE tokens than characters


def test_a_validation_text_is_scored_and_the_whole_corpus_trained_on(trained: Trained, tmp_path: Path) -> None:
    text = trained.corpus.read_text(encoding="utf-8")
    scrambled = tmp_path / "scrambled.txt"  # the corpus's own characters in random order: unlearnable
    scrambled.write_text("".join(random.Random(1).sample(text, len(text))), encoding="utf-8")
    short = {**TRAIN, "checkpoint_every": STEPS, "corpus": str(trained.corpus)}
    on_itself = job(trained, "train", {**short, "validation": str(trained.corpus)})
    on_scrambled = job(trained, "train", {**short, "validation": str(scrambled)})
    for outcome in (on_itself, on_scrambled):
        assert outcome.job.status == "succeeded", outcome.job.error
        assert outcome.summary["train_tokens"] == len(text)  # no tail held out: one token per character
        assert outcome.models[0].config["holdout"] == 0.0
    assert on_scrambled.models[0].config["validation"] == str(scrambled)
    assert on_scrambled.summary["val_loss"] > on_itself.summary["val_loss"] + 0.5
    assert trained.outcome.summary["train_tokens"] == len(text) - int(len(text) * 0.1)  # the default: a tail

    assert "validation " + str(tmp_path / "none.txt") + " not found" in failure(
        trained, "train", {**short, "validation": str(tmp_path / "none.txt")}, refused_at_submit=True
    )
    tiny = tmp_path / "tiny.txt"
    tiny.write_text("to be\n", encoding="utf-8")
    assert failure(trained, "train", {**short, "validation": str(tiny)}) == (
        f"validation {tiny} has 6 tokens, fewer than context+1=33; give more validation text or a smaller context"
    )


def test_fine_tune_continues_a_local_base_with_its_own_tokenizer(trained: Trained) -> None:
    outcome = job(
        trained,
        "train",
        {
            "corpus": str(trained.corpus),
            "base": str(trained.folder),
            "steps": 5,
            "context": 16,
            "batch_size": 4,
            "eval_every": 5,
            "eval_batches": 1,
        },
    )
    assert outcome.job.status == "succeeded", outcome.job.error
    (model,) = outcome.models
    assert model.config["base"] == str(trained.folder) and model.config["tokenizer"] == "base"
    error = failure(trained, "train", {"corpus": str(trained.corpus), "base": str(trained.folder), "context": 64})
    assert error == "context=64 is longer than the base model's 32 positions; use context<=32"


# -- generate ----------------------------------------------------------------------------------
def test_generate_is_reproducible_streams_and_gives_each_sequence_its_seed(trained: Trained) -> None:
    params = {"prompt": "ROMEO:", "max_new_tokens": 20, "num_return_sequences": 3, "seed": 5}
    first, again = job(trained, "generate", params), job(trained, "generate", params)
    assert first.job.status == "succeeded", first.job.error
    assert [r.text for r in first.items] == [r.text for r in again.items]
    assert [r.seed for r in first.items] == [5, 6, 7]
    alone = job(trained, "generate", {**params, "num_return_sequences": 1, "seed": 6})
    assert alone.items[0].text == first.items[1].text  # sequence k of seed s is sequence 0 of seed s+k
    meta = first.items[0].meta
    assert meta["prompt"] == "ROMEO:" and meta["new_tokens"] == 20 and meta["stop_reason"] == "max_new_tokens"
    assert all(r.text.startswith("ROMEO:") for r in first.items)

    settings = trained.outcome.settings
    job_id = submit(settings, "text", "generate", params)
    streamed: list[str] = []
    assert run_attempt(job_id, settings=settings, on_stream=streamed.append) == "succeeded"
    assert len(streamed) > 20  # token by token, not all at the end
    assert "".join(streamed) == "\n\n".join(r.text for r in first.items)


def test_stop_strings_cut_the_text_and_long_outputs_slide_past_the_context(trained: Trained) -> None:
    outcome = job(trained, "generate", {"prompt": "ROMEO:", "max_new_tokens": 200, "stop": ["\n\n"], "seed": 1})
    (item,) = outcome.items
    assert item.meta["stop_reason"] == "stop" and "\n\n" not in item.text
    greedy = job(trained, "generate", {"prompt": "JULIET:", "max_new_tokens": 100, "temperature": 0, "seed": 1})
    assert greedy.items[0].meta["new_tokens"] == 100  # 3x the 32-token context


def test_prompts_file_gives_each_line_its_sequences(trained: Trained, tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("ROMEO:\n\nJULIET:\n", encoding="utf-8")
    outcome = job(trained, "generate", {"prompts_file": str(prompts), "max_new_tokens": 5, "num_return_sequences": 2})
    assert [(r.meta["prompt"], r.meta["sequence"]) for r in outcome.items] == [
        ("ROMEO:", 0),
        ("ROMEO:", 1),
        ("JULIET:", 0),
        ("JULIET:", 1),
    ]


# -- evaluate ----------------------------------------------------------------------------------
def test_evaluate_scores_nats_and_bits_per_character(trained: Trained) -> None:
    outcome = job(trained, "evaluate", {"corpus": str(trained.corpus), "split": "validation"})
    assert outcome.job.status == "succeeded", outcome.job.error
    s = outcome.summary
    tail = trained.corpus.read_text(encoding="utf-8")
    assert s["chars"] == int(len(tail) * 0.1)  # the train job's hold-out: the last 10%
    assert s["tokens"] == s["chars"]  # character tokenizer: one token per character
    assert s["nats_per_char"] == pytest.approx(s["loss_per_token"])
    assert s["bits_per_char"] == pytest.approx(s["nats_per_char"] / math.log(2))
    assert s["perplexity"] == pytest.approx(math.exp(s["loss_per_token"]))
    assert s["nats_per_char"] < math.log(trained.outcome.models[0].config["vocab_size"])
    assert s["stride"] == 16 and s["context"] == 32


# -- bad input ---------------------------------------------------------------------------------
def test_bad_corpora_fail_with_one_line(trained: Trained, tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf-8")
    assert failure(trained, "train", {**TINY, "corpus": str(empty)}) == f"corpus {empty} is empty: it holds no text"
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\xe9 au lait\n".encode("latin-1") * 100)
    assert "is not UTF-8 text (invalid byte at offset 3)" in failure(trained, "train", {**TINY, "corpus": str(latin1)})
    assert "not found" in failure(
        trained, "train", {**TINY, "corpus": str(tmp_path / "missing.txt")}, refused_at_submit=True
    )
    assert "matches no files" in failure(
        trained, "train", {**TINY, "corpus": str(tmp_path / "*.md")}, refused_at_submit=True
    )
    short = tmp_path / "short.txt"
    short.write_text("to be or not to be\n", encoding="utf-8")
    assert "fewer than context+1=33" in failure(trained, "train", {**TINY, "corpus": str(short)})


def test_a_base_that_is_not_a_causal_lm_is_refused(trained: Trained, tmp_path: Path) -> None:
    from transformers import ViTConfig

    vision = tmp_path / "vit"
    ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64).save_pretrained(vision)
    error = failure(trained, "train", {"corpus": str(trained.corpus), "base": str(vision)}, refused_at_submit=True)
    assert error.startswith(f"base '{vision}' is a vit model, not a causal language model")
    base = {"corpus": str(trained.corpus), "base": "no-such-org/no-such-model"}
    error = failure(trained, "train", base, refused_at_submit=True)
    assert error.startswith("base 'no-such-org/no-such-model' is neither a local folder nor a cached hub model")


def test_bad_prompts_are_refused(trained: Trained, tmp_path: Path) -> None:
    with pytest.raises(InvalidParams, match="prompt is empty"):
        job(trained, "generate", {"prompt": ""})
    error = failure(trained, "generate", {"prompt": "x" * 40}, refused_at_submit=True)
    assert error == "prompt 0 is 40 tokens but the model reads at most 32; shorten it to under 32 tokens"
    missing = tmp_path / "missing.txt"
    assert failure(trained, "generate", {"prompts_file": str(missing)}, refused_at_submit=True) == (
        f"prompts_file {missing} not found"
    )
    blank = tmp_path / "blank.txt"
    blank.write_text("\n \n", encoding="utf-8")
    assert "holds no prompt" in failure(trained, "generate", {"prompts_file": str(blank)}, refused_at_submit=True)


# -- the bundled model, from the command line --------------------------------------------------
def test_cli_generates_with_the_bundled_model_offline(tmp_path: Path) -> None:
    from aigc.plugins import text

    bundled = Path(text.__file__).parent / "default"
    config = json.loads((bundled / "config.json").read_text())
    assert config["model_type"] == "gpt2"
    assert sum(f.stat().st_size for f in bundled.iterdir()) <= 10 * 2**20
    settings = temporary_settings(tmp_path)
    from conftest import cli

    done = cli(
        settings,
        "submit",
        "generate",
        "--plugin",
        "text",
        "--prompt",
        "ROMEO:",
        "-p",
        "max_new_tokens=40",
        "-p",
        "seed=1",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ROMEO:" in done.stdout


def test_cli_takes_the_old_param_names_with_one_warning_line_each(tmp_path: Path) -> None:
    from conftest import cli

    text = write_corpus(tmp_path / "held-out.txt", lines=20)
    settings = temporary_settings(tmp_path / "store")
    done = cli(
        settings,
        "submit",
        "evaluate",
        "--plugin",
        "text",
        "-p",
        f"text={text}",
        "-p",
        "split=validation",
        "-p",
        "val_fraction=0.5",
        "--json",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: param 'text' is renamed 'corpus'; the old name stops working in the next release",
        "warning: param 'val_fraction' is renamed 'holdout'; the old name stops working in the next release",
    ]
    assert json.loads(done.stdout)["summary"]["chars"] == int(len(text.read_text()) * 0.5)
