"""The `aigc` command: sub-command groups, and the one place errors become messages and exit codes."""

from __future__ import annotations

import sys

import typer

from aigc.cli import (
    cluster_cmd,
    config_cmd,
    db_cmd,
    doctor_cmd,
    jobs_cmd,
    models_cmd,
    plugins_cmd,
    results_cmd,
    serve_cmd,
    submit_cmd,
    worker_cmd,
)

app = typer.Typer(
    name="aigc",
    help="Run content-generation plugins (GAN, VAE, text, yours) as jobs: in-process, or on Celery GPU workers.",
    no_args_is_help=False,  # `aigc` alone shows where to start (welcome below)
    pretty_exceptions_enable=False,
)


@app.callback(invoke_without_command=True)
def _start_here(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        from aigc.cli.welcome import welcome

        welcome()


app.add_typer(plugins_cmd.app, name="plugins")
app.add_typer(submit_cmd.app, name="submit")
app.add_typer(jobs_cmd.app, name="jobs")
app.command("results")(results_cmd.results)
app.add_typer(models_cmd.app, name="models")
app.add_typer(db_cmd.app, name="db")
app.command("worker")(worker_cmd.worker)
app.command("workers")(cluster_cmd.workers)
app.command("serve")(serve_cmd.serve)
app.command("config")(config_cmd.config)
app.command("doctor")(doctor_cmd.doctor)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script: typed core errors become one line on stderr."""
    from aigc.core.errors import AigcError

    command = typer.main.get_command(app)
    try:
        # Not standalone: usage errors, Exit and Abort come back here, so every error is printed one way.
        code = command.main(args=argv, prog_name="aigc", standalone_mode=False)
    except AigcError as exc:
        _fail(str(exc), exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        _fail("interrupted", 130)
    except typer.TyperException as exc:  # bad options and arguments, as Typer words them
        exc.show()  # type: ignore[attr-defined]
        sys.exit(exc.exit_code)
    except Exception as exc:
        if _debug():
            raise
        _fail(f"unexpected {type(exc).__name__}: {exc} (set AIGC_DEBUG=1 for the traceback)", 1)
    if code == 130:  # Typer turns Ctrl-C into exit code 130
        _fail("interrupted", 130)
    sys.exit(code if isinstance(code, int) else 0)


def _debug() -> bool:
    from aigc.core.config import environment
    from aigc.core.errors import AigcError

    try:
        return environment().debug
    except AigcError:  # a bad AIGC_* value: the unexpected error is still reported in one line
        return False


def _fail(message: str, code: int) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)
