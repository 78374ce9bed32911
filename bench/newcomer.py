"""The first five minutes, timed: `aigc doctor` (target < 1 s, no broker, no torch import), shell completion
(target < 0.3 s per TAB), and README's first command with `--out digits/` in a terminal (digits shown,
files written, no other command), beside a bare `python -c pass` and `aigc --help`.

python bench/newcomer.py [--runs 21]

Runs against a fresh AIGC_HOME in a temporary folder; the first command runs once, in a pseudo-terminal.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import resource
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

AIGC = [sys.executable, "-m", "aigc.cli"]


def complete(words: str) -> dict[str, str]:
    """The environment of one TAB in bash: Typer/Click's completion protocol."""
    return {"_AIGC_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(len(words.split(" ")) - 1)}


CASES: dict[str, tuple[list[str], dict[str, str]]] = {
    "python -c pass": ([sys.executable, "-c", "pass"], {}),
    "aigc --help": ([*AIGC, "--help"], {}),
    "aigc doctor": ([*AIGC, "doctor"], {}),
    "TAB aigc submit generate --plugin <>": (AIGC, complete("aigc submit generate --plugin ")),
    "TAB aigc submit generate --plugin gan -p <>": (AIGC, complete("aigc submit generate --plugin gan -p ")),
    "TAB aigc jobs show <>": (AIGC, complete("aigc jobs show ")),
}


def in_terminal(command: list[str], env: dict[str, str], columns: int = 80, lines: int = 24) -> tuple[int, str, float]:
    """Run `command` with a pseudo-terminal as stdin/stdout/stderr; returns (exit code, output, seconds)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
    start = time.perf_counter()
    process = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 1 << 16)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    code = process.wait()
    os.close(master)
    return code, b"".join(chunks).decode(errors="replace"), time.perf_counter() - start


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIGC_")}
        env.update(AIGC_HOME=str(Path(tmp) / "home"), TERM="xterm-256color", COLORTERM="truecolor")
        env.pop("COLUMNS", None)
        env.pop("LINES", None)

        digits = Path(tmp) / "digits"
        command = [*AIGC, "submit", "generate", "--plugin", "gan", "--out", str(digits)]
        code, output, seconds = in_terminal(command, env)
        files = sorted(p.name for p in digits.iterdir()) if digits.is_dir() else []
        shown = output.count("▀")
        print(
            f"first command (fresh home, 80x24 terminal): exit {code}, {seconds:.1f} s, {len(files)} files, "
            f"{shown} half-block cells shown; {[line for line in output.splitlines() if 'preview' in line]}"
        )

        timings: dict[str, list[float]] = {name: [] for name in CASES}
        cpu: dict[str, list[float]] = {name: [] for name in CASES}
        for _ in range(args.runs):  # interleaved, so load on the machine hits every case alike
            for name, (argv, extra) in CASES.items():
                before = _children_cpu()
                start = time.perf_counter()
                done = subprocess.run(argv, env={**env, **extra}, capture_output=True)
                timings[name].append(time.perf_counter() - start)
                cpu[name].append(_children_cpu() - before)
                if done.returncode != 0:
                    raise SystemExit(f"{name} failed: {done.stderr.decode()[-500:]}")
        imports = subprocess.run(
            [*AIGC, "doctor"], env={**env, "PYTHONPROFILEIMPORTTIME": "1"}, capture_output=True, text=True
        ).stderr
        imported = {line.split("|")[-1].strip() for line in imports.splitlines() if "|" in line}
        base = statistics.median(timings["python -c pass"])
        # CPU seconds (user + system) of the command: what it costs, less sensitive than wall time to a
        # machine busy with other work.
        print(f"{'case':<46}{'median s':>9}{'min s':>8}{'x python':>9}{'cpu s':>7}")
        for name, values in timings.items():
            median = statistics.median(values)
            print(
                f"{name:<46}{median:>9.3f}{min(values):>8.3f}{median / base:>9.1f}{statistics.median(cpu[name]):>7.3f}"
            )
        heavy = sorted(imported & {"torch", "transformers", "sqlalchemy"})
        print("aigc doctor imports:", ", ".join(heavy) or "none of torch, transformers, sqlalchemy")
        print("load average after:", " ".join(f"{v:.1f}" for v in os.getloadavg()))


if __name__ == "__main__":
    main()
