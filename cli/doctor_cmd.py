"""`aigc doctor`: is this set-up able to run jobs? One line per check: ok / warn / fail, and what to do."""

from __future__ import annotations

import typer

from aigc.cli.render import out, print_json

LEVEL_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red"}


def doctor(
    gpu: bool = typer.Option(False, "--gpu", help="Also import torch and run a small CUDA operation on each GPU."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Check versions, the store, the artifact root, the broker and its workers, GPUs, plugins and the server.

    Exit code 1 when a check fails. Without --gpu, torch is not imported (versions come from package metadata).
    """
    from aigc.core.doctor import run

    checks = run(cuda=gpu)
    failed = any(c.level == "fail" for c in checks)
    if json_out:
        print_json({"ok": not failed, "checks": [vars(c) for c in checks]})
    else:
        from rich.text import Text

        width = max(len(c.name) for c in checks)
        for c in checks:
            line = Text(f"{c.level:<4}", style=LEVEL_STYLE[c.level])
            line.append(f"  {c.name:<{width}}  {c.message}")
            if c.fix:
                line.append(f"  → {c.fix}", style="bold")
            out.print(line, soft_wrap=True)
    if failed:
        raise typer.Exit(1)
