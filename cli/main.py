"""The `aigc` command: sub-command groups, and the one place errors become messages and exit codes."""

from __future__ import annotations

import sys

import typer

from aigc.cli import (
    cluster_cmd,
    compare_cmd,
    config_cmd,
    db_cmd,
    doctor_cmd,
    jobs_cmd,
    models_cmd,
    plugins_cmd,
    prune_cmd,
    results_cmd,
    serve_cmd,
    submit_cmd,
    sweep_cmd,
    tokens_cmd,
    verify_cmd,
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
app.add_typer(sweep_cmd.app, name="sweep")
app.add_typer(sweep_cmd.sweeps_app, name="sweeps")
app.command("results")(results_cmd.results)
app.command("compare")(compare_cmd.compare)
app.command("verify")(verify_cmd.verify)
app.add_typer(models_cmd.app, name="models")
app.add_typer(db_cmd.app, name="db")
app.command("worker")(worker_cmd.worker)
app.command("workers")(cluster_cmd.workers)
app.command("serve")(serve_cmd.serve)
app.add_typer(tokens_cmd.app, name="tokens")
app.command("config")(config_cmd.config)
app.command("doctor")(doctor_cmd.doctor)
app.command("prune")(prune_cmd.prune)
app.command("du")(prune_cmd.du)


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
    except typer.TyperException as exc:  # bad options and arguments: one line, as ours are
        if type(exc).__name__ == "NoArgsIsHelpError":  # a group given no command: its help, not an error
            exc.show()  # type: ignore[attr-defined]
            sys.exit(exc.exit_code)
        _fail(_usage_line(exc), exc.exit_code)
    except Exception as exc:
        if _debug():
            _traceback(exc)
        _fail(f"unexpected {type(exc).__name__}: {exc} (set AIGC_DEBUG=1 for the traceback)", 1)
    if code == 130:  # Typer turns Ctrl-C into exit code 130
        _fail("interrupted", 130)
    sys.exit(code if isinstance(code, int) else 0)


def _usage_line(exc: typer.TyperException) -> str:
    """Click's usage error ("Invalid value for '--priority': ...") as one line pointing at the command's help."""
    message = " ".join(exc.format_message().split())
    if message[1:2].islower():
        message = message[0].lower() + message[1:]
    message = message.removesuffix(".")
    ctx = getattr(exc, "ctx", None)  # the command it happened in, when Click knows it
    return f"{message} (see '{ctx.command_path} --help')" if ctx is not None else message


def _debug() -> bool:
    from aigc.core.config import environment
    from aigc.core.errors import AigcError

    try:
        return environment().debug
    except AigcError:  # a bad AIGC_* value: the unexpected error is still reported in one line
        return False


def _fail(message: str, code: int) -> None:
    from aigc.core.masking import masked

    print(f"error: {masked(message)}", file=sys.stderr)  # a message may quote a URL with its password
    sys.exit(code)


def _traceback(exc: Exception) -> None:
    """AIGC_DEBUG's traceback, passwords masked as in every other line aigc prints."""
    import traceback

    from aigc.core.masking import masked

    print(masked("".join(traceback.format_exception(exc))), file=sys.stderr, end="")
    sys.exit(1)
