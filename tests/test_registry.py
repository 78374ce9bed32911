"""Plugin discovery: entry points, drop-in folders, broken plugins, name clashes, cheap listing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import cli, env_for, write_module

ENTRY_PLUGIN = """
from pydantic import Field
from aigc.core.plugin import JobParams, Modality, Plugin


class Params(JobParams):
    words: int = Field(3, ge=1, le=10, description="words to write")


class Entry(Plugin):
    name = "{name}"
    modality = Modality.text
    description = "installed through an entry point"
    queue = "cpu"
    GenerateParams = Params

    def generate(self, ctx, params):
        ctx.add_text(" ".join(["word"] * params.words), seed=ctx.seed)
"""


def install_entry_point_package(root: Path, plugin_name: str = "entryplug") -> dict[str, str]:
    """Lay out a package and its .dist-info as pip would install it; return PYTHONPATH for it."""
    package = root / "toyentry"
    package.mkdir(parents=True)
    write_module(package / "__init__.py", ENTRY_PLUGIN.format(name=plugin_name))
    dist = root / "toyentry-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toyentry\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[aigc.plugins]\n{plugin_name} = toyentry:Entry\n")
    return {"PYTHONPATH": str(root)}


def plugins_json(settings, env=None) -> dict[str, dict]:
    done = cli(settings, "plugins", "--json", env=env)
    assert done.returncode == 0, done.stderr
    return {p["name"]: p for p in json.loads(done.stdout)}


def test_lists_drop_in_plugins_and_reports_broken_ones(sqlite_settings):
    listed = plugins_json(sqlite_settings)
    assert listed["toy"]["status"] == "ok"
    assert listed["toy"]["package"] == "drop-in"
    assert listed["chatter"]["modality"] == "text"
    assert listed["broken"]["status"] == "broken"
    assert "ImportError: this plugin is broken on purpose" in listed["broken"]["error"]
    assert "contract v0" in listed["old"]["error"]
    assert {"gan", "vae", "text"} <= set(listed)  # the built-ins, through pyproject's entry points


def test_broken_plugin_does_not_stop_other_commands(sqlite_settings):
    done = cli(sqlite_settings, "submit", "generate", "--plugin", "toy", "-p", "n=2")
    assert done.returncode == 0, done.stderr
    refused = cli(sqlite_settings, "submit", "generate", "--plugin", "broken")
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "error: plugin 'broken' is broken: ImportError: this plugin is broken on purpose (broken.py:3)"
    )


def test_installed_entry_point_plugin_is_discovered_and_runs(sqlite_settings, tmp_path):
    env = env_for(sqlite_settings, **install_entry_point_package(tmp_path / "site"))
    listed = plugins_json(sqlite_settings, env)
    assert listed["entryplug"]["status"] == "ok"
    assert listed["entryplug"]["package"] == "toyentry"
    done = cli(sqlite_settings, "submit", "generate", "--plugin", "entryplug", "-p", "words=2", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "word word"


def test_two_plugins_with_one_name_is_an_error_naming_both(sqlite_settings, tmp_path):
    env = env_for(sqlite_settings, **install_entry_point_package(tmp_path / "site", plugin_name="toy"))
    listed = plugins_json(sqlite_settings, env)
    error = listed["toy"]["error"]
    assert listed["toy"]["status"] == "broken"
    assert "toyentry 1.0" in error and "toy_plugins/toy.py" in error
    refused = cli(sqlite_settings, "submit", "generate", "--plugin", "toy", env=env)
    assert refused.returncode == 2
    assert "two plugins are named 'toy'" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


CHECK_IMPORTS = """
import sys
from typer.main import get_command
from aigc.cli.main import app
try:
    get_command(app).main(args=sys.argv[1:], prog_name="aigc", standalone_mode=False)
finally:
    print("HEAVY", sorted(m for m in ("torch", "transformers") if m in sys.modules), file=sys.stderr)
"""


def test_help_and_plugin_listing_do_not_import_torch_or_transformers(sqlite_settings):
    for args in (["--help"], ["plugins"], ["plugins", "--json"], ["plugins", "show", "toy"]):
        done = subprocess.run(
            [sys.executable, "-c", CHECK_IMPORTS, *args], env=env_for(sqlite_settings), capture_output=True, text=True
        )
        assert "HEAVY []" in done.stderr, (args, done.stderr[-2000:])


def test_plugins_show_prints_types_defaults_limits_and_help(sqlite_settings):
    done = cli(sqlite_settings, "plugins", "show", "toy")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.split()[:1] == ["n"])
    line, below = lines[at], lines[at + 1]  # at 80 columns the help goes on the line below
    assert line.split() == ["n", "int", "4", "1≤x≤10000"] and below == "    how many images"
    schema = json.loads(cli(sqlite_settings, "plugins", "show", "toy", "--json").stdout)
    assert schema["params"]["generate"]["properties"]["n"]["maximum"] == 10_000
