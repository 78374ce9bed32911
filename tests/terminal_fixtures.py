"""Running the real `aigc` command in a pseudo-terminal: what a person at a terminal sees."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time


def in_terminal(
    *args: str, env: dict[str, str], columns: int = 80, lines: int = 24, timeout: float = 120
) -> tuple[int, str]:
    """Run `aigc ARGS` with a pseudo-terminal of `columns` x `lines` as stdin, stdout and stderr.

    Returns the exit code and everything written, escapes included. COLUMNS and LINES are dropped
    from the environment, so the size comes from the terminal itself.
    """
    env = {k: v for k, v in env.items() if k not in ("COLUMNS", "LINES")}
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "aigc.cli", *args], stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True
    )
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not select.select([master], [], [], 0.5)[0]:
                continue
            try:
                data = os.read(master, 1 << 16)
            except OSError:  # EIO: the child closed its side
                break
            if not data:
                break
            chunks.append(data)
        else:
            process.kill()
            raise AssertionError(f"aigc {' '.join(args)} did not end within {timeout:.0f} s")
    finally:
        os.close(master)
    return process.wait(timeout=30), b"".join(chunks).decode(errors="replace")
