"""Templates of `aigc plugins new NAME --modality text`: a tiny character-level MLP language model
(Bengio et al. 2003): the last few characters in, the next one out.

`${...}` placeholders are filled by `scaffold.render`; everything else is the generated code verbatim.
"""

DESCRIPTION = "a tiny character-level language model (a starting point for a text plugin)"
TRAIN_EXAMPLE = "-p corpus=my_text.txt -p steps=500"
GENERATE_EXAMPLE = '-p prompt="Once upon" -p seed=1'
EVALUATE_EXAMPLE = "-p corpus=my_text.txt"

# The params classes of the generated `__init__.py`; `scaffold.render` puts them between the
# shared imports (PLUGIN_HEAD) and plugin class (PLUGIN_CLASS).
PARAMS = '''
HOLDOUT = "the LAST fraction of the corpus that train leaves out and evaluate scores (0: all of it)"


# Every param has limits and a description: `aigc plugins show ${name}` prints them, and the CLI
# rejects a bad value before any job is stored.
class TrainParams(JobParams):
    corpus: str = Field(description="a UTF-8 text file to learn from")
    steps: int = Field(default=500, ge=1, le=1_000_000, description="optimiser steps")
    batch_size: int = Field(default=64, ge=1, le=4096, description="characters predicted per step")
    context: int = Field(default=4, ge=1, le=32, description="characters the model looks back on")
    hidden: int = Field(default=128, ge=8, le=4096, description="width of the hidden layer")
    lr: float = Field(default=3e-3, gt=0, le=1, description="Adam learning rate")
    holdout: float = Field(default=0.1, ge=0, lt=1, description=HOLDOUT)
    checkpoint_every: int = Field(default=100, ge=1, description="steps between resumable checkpoints")


class GenerateParams(ModelParams):  # ModelParams adds `model` (--model ID)
    n: int = Field(default=3, ge=1, le=100, description="how many texts to write")
    length: int = Field(default=200, ge=1, le=100_000, description="characters to add to the prompt, per text")
    prompt: str = Field(default="", max_length=10_000, description="text to continue")
    temperature: float = Field(default=1.0, gt=0, le=10, description="below 1 plays safe, above 1 takes risks")


class EvaluateParams(ModelParams):
    corpus: str = Field(description="a UTF-8 text file to score")
    holdout: float = Field(default=0.1, ge=0, lt=1, description=HOLDOUT)


'''

NETWORKS = '''\
"""The network: the last `context` characters, embedded and concatenated, through one hidden layer
to the logits of the next character. Id V (one past the vocabulary) pads the start of a text."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class Config:
    vocab_size: int  # V characters, ids 0..V-1
    context: int = 4  # K
    embed: int = 16  # E
    hidden: int = 128  # H


class CharMLP(nn.Module):
    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size + 1, config.embed)  # + the padding id
        self.hidden = nn.Linear(config.context * config.embed, config.hidden)
        self.out = nn.Linear(config.hidden, config.vocab_size)
        # The characters, as code points: id i is chr(vocab[i]). Saved with the weights.
        self.register_buffer("vocab", torch.zeros(config.vocab_size, dtype=torch.int64))

    def forward(self, context: torch.Tensor) -> torch.Tensor:
        x = self.embed(context)  # (B, K) -> (B, K, E)
        x = torch.tanh(self.hidden(x.flatten(1)))  # (B, K*E) -> (B, H)
        return self.out(x)  # (B, V) logits of the next character
'''

JOBS = '''\
"""The three jobs. They report through the `JobContext` only: progress, metrics, results, models."""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F

from aigc.core.artifacts import load_tensors
from aigc.core.context import JobContext, LoadedModel
from aigc.core.errors import UsageError
from ${package} import EvaluateParams, GenerateParams, TrainParams
from ${package}.networks import CharMLP, Config


def read_corpus(path: str, holdout: float) -> tuple[str, str]:
    """(training text, held-out text): the held-out text is the last `holdout` of the characters."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise UsageError(f"corpus {path} is not a file; give a UTF-8 text file")  # one line, job fails
    text = file.read_text(encoding="utf-8")
    cut = len(text) - int(len(text) * holdout)
    return text[:cut], text[cut:]


def encode(net: CharMLP, text: str) -> torch.Tensor:
    index = {int(c): i for i, c in enumerate(net.vocab.tolist())}
    unknown = sorted({c for c in text if ord(c) not in index})
    if unknown:
        raise UsageError(f"the model never saw the characters {''.join(unknown)!r}; remove them")
    return torch.tensor([index[ord(c)] for c in text], dtype=torch.int64)


def windows(net: CharMLP, ids: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """(P, K) contexts before each position, padded with id V before the start of the text."""
    k, pad = net.config.context, net.config.vocab_size
    padded = torch.cat([torch.full((k,), pad, dtype=torch.int64), ids])
    return padded[positions[:, None] + torch.arange(k)]  # position t sees ids t-K .. t-1


def bits_per_char(net: CharMLP, ids: torch.Tensor, device: str) -> float:
    total = 0.0
    with torch.no_grad():
        for positions in torch.arange(len(ids)).split(4096):
            logits = net(windows(net, ids, positions).to(device))
            total += F.cross_entropy(logits, ids[positions].to(device), reduction="sum").item()
    return total / len(ids) / math.log(2)


def train(ctx: JobContext, p: TrainParams) -> None:
    text, heldout = read_corpus(p.corpus, p.holdout)
    if not text:
        raise UsageError(f"corpus {p.corpus} holds no text to train on")
    torch.manual_seed(ctx.seed)
    chars = sorted(set(text + heldout))  # the held-out text is scored with the same vocabulary
    net = CharMLP(Config(vocab_size=len(chars), context=p.context, hidden=p.hidden))
    net.vocab.copy_(torch.tensor([ord(c) for c in chars]))
    net.to(ctx.device)
    ids = encode(net, text)
    optimizer = torch.optim.Adam(net.parameters(), lr=p.lr)
    generator = torch.Generator().manual_seed(ctx.seed)  # draws the batches
    start = 0
    state = ctx.load_checkpoint()  # None on a first attempt; the last checkpoint on a resumed one
    if state is not None:
        net.load_state_dict(state["net"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["rng"])
        start = state["step"]
    for step in range(start, p.steps):
        positions = torch.randint(len(ids), (p.batch_size,), generator=generator)
        loss = F.cross_entropy(net(windows(net, ids, positions).to(ctx.device)), ids[positions].to(ctx.device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if (step + 1) % 10 == 0 or step + 1 == p.steps:
            ctx.log_metric("loss", loss.item(), step=step + 1)
        ctx.progress(step + 1, p.steps, loss=loss.item())  # cheap; also where a cancel takes effect
        if (step + 1) % p.checkpoint_every == 0:
            state = {"net": net.state_dict(), "optimizer": optimizer.state_dict(), "rng": generator.get_state()}
            ctx.save_checkpoint({**state, "step": step + 1})

    metrics = {"heldout_bits_per_char": bits_per_char(net, encode(net, heldout), ctx.device)} if heldout.strip() else {}
    ctx.set_summary(train_chars=len(text), vocab_size=net.config.vocab_size, **metrics)
    ctx.save_model(net.state_dict(), name=f"${name}-{Path(p.corpus).stem}", config=asdict(net.config), metrics=metrics)


def generate(ctx: JobContext, p: GenerateParams) -> None:
    """Text i is sampled with seed ctx.seed + i: a seed always writes the same text."""
    model = ctx.load_model(p.model)  # None: the newest trained model, else the bundled one
    net = load(model, ctx.device)
    prompt = encode(net, p.prompt).tolist()
    for i in range(p.n):
        generator = torch.Generator().manual_seed(ctx.seed + i)
        ids = list(prompt)
        ctx.stream(("\\n\\n" if i else "") + p.prompt)  # live output when run in a terminal
        for _ in range(p.length):
            context = windows(net, torch.tensor(ids, dtype=torch.int64), torch.tensor([len(ids)]))
            with torch.no_grad():
                logits = net(context.to(ctx.device))[0].cpu()
            ids.append(int(torch.multinomial(F.softmax(logits / p.temperature, dim=-1), 1, generator=generator)))
            ctx.stream(chr(int(net.vocab[ids[-1]])))
            ctx.check_cancelled()
        text = "".join(chr(int(net.vocab[t])) for t in ids)
        ctx.add_text(text, seed=ctx.seed + i, metadata={"model": model.id, "prompt": p.prompt})
        ctx.progress(i + 1, p.n)
    ctx.set_summary(model=model.id, texts=p.n)


def evaluate(ctx: JobContext, p: EvaluateParams) -> None:
    model = ctx.load_model(p.model)
    net = load(model, ctx.device)
    text, heldout = read_corpus(p.corpus, p.holdout)
    scored = heldout if p.holdout else text
    if not scored:
        raise UsageError(f"nothing to score in {p.corpus}")
    bits = bits_per_char(net, encode(net, scored), ctx.device)
    ctx.progress(1, 1)
    ctx.set_summary(model=model.id, chars=len(scored), bits_per_char=round(bits, 4))


def load(model: LoadedModel, device: str) -> CharMLP:
    tensors, _ = load_tensors(model.path)
    net = CharMLP(Config(**model.config))
    net.load_state_dict(tensors)
    return net.to(device).eval()
'''

TESTS = '''\
"""Tests of the ${name} plugin: real jobs, run in-process against a temporary store.

`aigc.core.testing.run_job(plugin, kind, params, folder)` submits a job as `aigc submit` would
(params validated), runs it, and returns what it recorded. Jobs given the same folder share a store,
so a generate job after a train job uses the model it trained.
"""

from __future__ import annotations

import pytest

from aigc.core.errors import InvalidParams
from aigc.core.testing import run_job


LINE = "the cat sat on the mat. the dog sat on the log.\\n"


def train(folder, steps=30):
    """Write a small corpus into `folder` and train on it; the corpus path and the outcome."""
    corpus = folder / "corpus.txt"
    corpus.write_text(LINE * 50)
    return str(corpus), run_job("${name}", "train", {"corpus": str(corpus), "steps": steps, "seed": 0}, folder)


def test_train_registers_a_model_and_logs_its_loss(tmp_path):
    _, outcome = train(tmp_path)
    assert outcome.job.status == "succeeded", outcome.job.error
    [model] = outcome.models
    assert model.config["vocab_size"] == len(set(LINE))
    assert [step for key, step, _ in outcome.metrics if key == "loss"] == [10, 20, 30]


def test_generate_writes_the_same_text_for_the_same_seed(tmp_path):
    train(tmp_path)
    params = {"n": 2, "length": 40, "prompt": "the ", "seed": 3}
    first = run_job("${name}", "generate", params, tmp_path)
    again = run_job("${name}", "generate", params, tmp_path)
    assert first.job.status == "succeeded", first.job.error
    assert [r.text for r in first.items] == [r.text for r in again.items]
    assert [r.seed for r in first.items] == [3, 4]
    assert all(r.text.startswith("the ") and len(r.text) == 44 for r in first.items)


def test_evaluate_scores_held_out_text(tmp_path):
    corpus, _ = train(tmp_path)
    outcome = run_job("${name}", "evaluate", {"corpus": corpus}, tmp_path)
    assert outcome.job.status == "succeeded", outcome.job.error
    assert 0 < outcome.summary["bits_per_char"] < 8


def test_a_missing_corpus_fails_the_job_with_one_line(tmp_path):
    outcome = run_job("${name}", "train", {"corpus": str(tmp_path / "nope.txt")}, tmp_path)
    assert outcome.job.status == "failed"
    assert outcome.job.error.endswith("is not a file; give a UTF-8 text file")


def test_bad_params_are_refused_before_anything_runs(tmp_path):
    with pytest.raises(InvalidParams, match="steps"):
        run_job("${name}", "train", {"corpus": "x.txt", "steps": 0}, tmp_path)
'''
