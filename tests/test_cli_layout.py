"""Every listing reads at 80 columns and in a pipe: no line wider than the width, at most two lines per row,
the long free text of a row under it; and `aigc` alone shows where to start."""

from __future__ import annotations

import re

import pytest
from conftest import cli, env_for
from rich.cells import cell_len
from rich.text import Text

from aigc.cli.table import Table

WIDTH = 80


def at_80(settings, *args: str) -> list[str]:
    done = cli(settings, *args, env=env_for(settings, COLUMNS=str(WIDTH)))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    too_wide = [line for line in lines if cell_len(line) > WIDTH]
    assert not too_wide, too_wide
    assert "\x1b" not in done.stdout  # piped: no colours
    return lines


def rows_of(lines: list[str]) -> list[list[str]]:
    """A table's rows after its header: a line at column 0 starts a row, an indented one continues it."""
    rows: list[list[str]] = []
    for line in lines[1:]:
        if line.startswith("    "):
            rows[-1].append(line)
        elif line.strip():
            rows.append([line])
    return rows


def test_table_keeps_short_text_inline_and_moves_long_text_under_its_row():
    table = Table(["name", "kind"], note="help")
    table.add_row("a", "int", note="short")
    table.add_row("b", "str", note="x" * 100)
    lines = [line.plain for line in table.lines(40)]
    assert lines == ["name  kind  help", "a     int   short", "b     str", "    " + "x" * 35 + "…"]


def test_table_cuts_the_widest_column_when_even_the_short_ones_do_not_fit():
    table = Table(["param", "limits"])
    table.add_row("device", "matches ^(auto|cpu|cuda(:\\d+)?|mps)$")
    lines = [line.plain for line in table.lines(30)]
    assert lines == ["param   limits", "device  matches ^(auto|cpu|cu…"]
    assert all(cell_len(line) <= 30 for line in lines)


def test_table_folds_values_that_must_be_read_whole():
    table = Table(["variable", "from"], note="value", fold_note=True)
    table.add_row("AIGC_DATABASE_URL", "environment", note="postgresql://" + "h" * 60)
    lines = [line.plain for line in table.lines(40)]
    assert lines[1] == "AIGC_DATABASE_URL  environment"
    assert "".join(line[4:] for line in lines[2:]) == "postgresql://" + "h" * 60
    assert all(cell_len(line) <= 40 for line in lines)


def test_cells_are_plain_text_unless_styled():
    table = Table(["name"])
    table.add_row("[red]x[/]")
    table.add_row(Text("ok", style="green"))
    lines = table.lines(20)
    assert lines[1].plain == "[red]x[/]" and lines[2].spans[0].style == "green"


@pytest.mark.parametrize("plugin", ["gan", "vae", "text", "diffusion"])
def test_plugins_show_gives_each_param_at_most_two_lines(sqlite_settings, plugin):
    lines = at_80(sqlite_settings, "plugins", "show", plugin)
    blocks = "\n".join(lines).split("\n\n")[1:]  # after the plugin's title: one block per job kind
    assert [block.splitlines()[0] for block in blocks] == [
        f"aigc submit {kind} --plugin {plugin} -p key=value" for kind in ("train", "generate", "evaluate")
    ]
    for block in blocks:
        header, *rest = block.splitlines()[1:]
        assert header.split() == ["param", "type", "default", "limits"] or header.split()[-1] == "help"
        params = rows_of([header, *rest])
        assert params and all(len(p) <= 2 for p in params), params
        assert all(re.match(r"[a-z_]+ ", p[0]) for p in params)  # name, type, default and limits on line one


def test_plugins_list_each_plugin_in_at_most_two_lines(sqlite_settings):
    lines = at_80(sqlite_settings, "plugins")
    assert lines[0].split()[:4] == ["name", "modality", "package", "status"]
    rows = rows_of(lines)
    assert {row[0].split()[0] for row in rows} >= {"gan", "vae", "text", "toy", "broken"}
    assert all(len(row) <= 2 for row in rows)
    broken = next(row for row in rows if row[0].startswith("broken "))
    assert broken[0].split()[-1] == "broken" and broken[1].startswith("    error: ImportError: this plugin is broken")


def test_jobs_models_config_and_workers_fit_80_columns(sqlite_settings):
    for _ in range(3):
        assert cli(sqlite_settings, "submit", "generate", "--plugin", "toy").returncode == 0
    assert cli(sqlite_settings, "submit", "train", "--plugin", "toy", "-p", "epochs=1").returncode == 0
    jobs = at_80(sqlite_settings, "jobs", "list")
    assert jobs[0].split() == ["id", "status", "plugin", "kind", "progress", "attempts", "worker", "created"]
    assert len(jobs) == 5 and all(len(row) == 1 for row in rows_of(jobs))
    models = at_80(sqlite_settings, "models")
    assert all(len(row) <= 2 for row in rows_of(models)) and len(rows_of(models)) == 5  # 1 trained, 4 bundled
    config = at_80(sqlite_settings, "config")
    assert config[0].split()[:2] == ["variable", "from"]
    assert {row[0].split()[0] for row in rows_of(config)} >= {"AIGC_DATABASE_URL", "AIGC_SERVER_URL", "AIGC_PREVIEW"}
    at_80(sqlite_settings, "workers")


def test_aigc_alone_shows_three_commands_then_the_help(sqlite_settings):
    lines = at_80(sqlite_settings)
    commands = [line for line in lines if line.startswith("aigc ") and "runs" not in line]
    assert commands == ["aigc submit generate --plugin gan --out digits/", "aigc plugins", "aigc doctor"]
    assert lines[-1].startswith("Every command: aigc --help")
