"""`aigc verify FILE...`: is each file labelled AI-generated, unchanged, and a result this store knows?"""

from __future__ import annotations

from pathlib import Path

import typer

from aigc.cli.render import out, print_json


def verify(
    files: list[Path] = typer.Argument(..., help="PNG files, or .txt files with their .json sidecars."),
    offline: bool = typer.Option(False, "--offline", help="Do not ask the store whether it knows the results."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Read each file's provenance label back and check the pixel (or text) digest; exit 1 unless all pass."""
    from aigc.core.errors import UsageError
    from aigc.core.store import Store
    from aigc.core.verification import verify_file

    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise UsageError(f"no such file: {missing[0]}")
    store = None if offline else Store.from_env()
    verdicts = [verify_file(f, store) for f in files]
    if json_out:
        print_json(
            [
                {
                    "file": str(v.path),
                    "ok": v.ok,
                    "label": v.label,
                    "content_ok": v.content_ok,
                    "xmp": v.xmp,
                    "store": v.store,
                    "c2pa": v.c2pa,
                    "problems": v.problems,
                }
                for v in verdicts
            ]
        )
    else:
        for v in verdicts:
            if v.label is None:
                out.print(f"{v.path}: not labelled ({'; '.join(v.problems)})", markup=False)
                continue
            label = v.label
            head = "ok" if v.ok else "FAILED: " + "; ".join(v.problems)
            out.print(
                f"{v.path}: {head}; {label['label']} by {label.get('producer')}, {label.get('plugin')} job "
                f"{label.get('job_id')} result {label.get('result_index')}, seed {label.get('seed')}, "
                f"produce id {label.get('produce_id')}; store: {v.store}; C2PA: {v.c2pa}",
                markup=False,
                highlight=False,
            )
    if not all(v.ok for v in verdicts):
        raise typer.Exit(1)
