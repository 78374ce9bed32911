"""Wall time of `aigc --help` and `aigc plugins` (target: median < 0.6 s each), beside a bare `python -c pass`.

python bench/cli_startup.py [--runs 21]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "aigc --help": [sys.executable, "-m", "aigc.cli", "--help"],
    "aigc plugins": [sys.executable, "-m", "aigc.cli", "plugins"],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    timings: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.runs):  # interleaved, so load on the machine hits every command alike
        for name, command in COMMANDS.items():
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            timings[name].append(time.perf_counter() - start)
    base = statistics.median(timings["python -c pass"])
    print(f"{'command':<18}{'median s':>10}{'min s':>8}{'x python':>10}")
    for name, values in timings.items():
        median = statistics.median(values)
        print(f"{name:<18}{median:>10.3f}{min(values):>8.3f}{median / base:>10.1f}")


if __name__ == "__main__":
    main()
