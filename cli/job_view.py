"""How a job is shown: the one-screen summary after submit/wait, and the full `jobs show`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aigc.cli.render import age, err, out, status_cell, status_text, value_text

if TYPE_CHECKING:
    from rich.text import Text

    from aigc.cli.job_source import JobSource
    from aigc.core.store import Job


def summarize(source: JobSource, job: Job, *, texts_shown: bool = False, files_hint: bool = True) -> None:
    """Job id, status, what it produced; generated texts go to stdout."""
    facts = source.facts(job, texts=not texts_shown)
    counts, texts = facts.counts, facts.texts
    for text in texts:
        out.print(text, markup=False)
        out.print()
    produced = ", ".join(f"{n} {role}{'s' if n != 1 else ''}" for role, n in sorted(counts.items())) or "no results"
    err.print(f"job {job.id} {job_status_text(job)}: {job.plugin} {job.kind}, {produced}", highlight=False)
    for model_id, name in facts.models:
        err.print(f"  model {model_id} registered ({name}); use --model {model_id}")
    for key, value in (job.summary or {}).items():
        err.print(f"  {key}: {value_text(value)}")
    if job.status == "failed" and job.error:
        err.print(f"  error: {job.error.strip().splitlines()[-1]}", markup=False)
    if counts and not texts and files_hint:
        err.print(f"  files: aigc results {job.id} --out DIR")


def show(source: JobSource, job: Job) -> None:
    from rich.table import Table

    facts = source.facts(job, texts=False)
    counts, parents, notices = facts.counts, facts.parents, facts.notices
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    rows = [
        ("id", str(job.id)),
        ("status", job_status_text(job)),
        ("plugin", f"{job.plugin} {job.kind}"),
        ("params", ", ".join(f"{k}={v}" for k, v in job.params.items())),
        ("model", job.model_id or "-"),
        ("after", ", ".join(f"job {p}" for p in parents) or "-"),
        ("sweep", str(job.sweep_id) if job.sweep_id else "-"),
        ("progress", f"{job.progress:.0%} {_info(job.progress_info)}"),
        ("attempts", f"{job.attempts} of at most {job.max_attempts}"),
        ("worker", f"{job.worker or '-'} ({job.device or 'device not chosen'})"),
        ("submitted by", f"token {job.token_name}" if job.token_name else "the command line"),
        ("created", age(job.created_at)),
        ("duration", f"{job.duration_s:.2f} s" if job.duration_s is not None else "-"),
        ("results", ", ".join(f"{n} {role}" for role, n in sorted(counts.items())) or "none"),
    ]
    for key, value in (job.summary or {}).items():
        rows.append((key, value_text(value)))
    last: dict[str, tuple[int, float]] = {}
    for key, step, value in facts.metrics:
        last[key] = (step, value)
    for key, (step, value) in last.items():
        rows.append((f"metric {key}", f"{value_text(value)} at step {step}"))
    if job.timeout_s is not None:
        from aigc.core.durations import format_duration

        rows.append(("timeout", format_duration(job.timeout_s)))
    rows.append(("label", "metadata and visible mark" if job.label == "visible" else "metadata"))
    for notice in notices:
        rows.append(("webhook", notice_text(notice)))
    for name, value in rows:
        table.add_row(name, value)
    out.print(table)
    if job.error:
        out.print("[bold]error[/]")
        out.print(job.error, markup=False)


def notice_text(notice: dict) -> str:
    """A webhook notice and each delivery of it: attempt, HTTP status or error, time."""
    from aigc.core.masking import masked

    tries = "; ".join(
        f"#{d['attempt']} {d['http_status'] or '-'}{' ' + d['error'] if d.get('error') else ''} at {d['at'][11:19]}"
        for d in notice["deliveries"]
    )
    return f"{masked(notice['url'])} {notice['state']} ({tries or 'not tried yet'})"


def job_status_cell(job: Job) -> Text:
    """`job_status_text` as a styled table cell."""
    cell = status_cell(job.status)
    lapsed_s = job.lease_lapsed_s()
    if lapsed_s is not None:
        cell.append(f" (lease lapsed {lapsed_s:.0f} s ago)")
    return cell


def job_status_text(job: Job) -> str:
    """The status, and for a running job whose lease lapsed, since when: nothing is running it any more."""
    lapsed_s = job.lease_lapsed_s()
    if lapsed_s is None:
        return status_text(job.status)
    return f"{status_text(job.status)} (lease lapsed {lapsed_s:.0f} s ago)"


def _info(info: dict | None) -> str:
    return " ".join(f"{k}={value_text(v)}" for k, v in (info or {}).items())
