"""One progress bar for a job, fed by the runner (embedded) or by polling the store (queued)."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from aigc.cli.render import err, value_text


class JobProgress:
    def __init__(self, job_id: int, label: str, enabled: bool = True) -> None:
        self._bar = Progress(
            TextColumn("[bold]job {task.fields[job]}[/] {task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[info]}"),
            console=err,
            transient=True,
            disable=not enabled,
        )
        self._task = self._bar.add_task(label, total=1.0, job=job_id, info="")
        self._streaming = False

    def __enter__(self) -> JobProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._bar.stop()

    def update(self, fraction: float, info: dict[str, Any], status: str | None = None) -> None:
        shown = "  ".join(f"{k} {value_text(v)}" for k, v in info.items() if k not in ("done", "total"))
        if status:
            shown = f"{status}  {shown}"
        self._bar.update(self._task, completed=fraction, info=shown)

    def stream(self, text: str) -> None:
        """Live text from the job goes to stdout; the bar steps aside for it."""
        if not self._streaming:
            self._streaming = True
            self._bar.stop()
        sys.stdout.write(text)
        sys.stdout.flush()

    @property
    def streamed(self) -> bool:
        return self._streaming
