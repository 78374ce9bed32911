"""docs/plugins.md runs: every fenced block, top to bottom, in one scratch folder, as a user would.

- ```python file=PATH  the block is written to PATH (a drop-in plugin, a test file)
- ```python            the block runs as a script and must exit 0
- ```sh                the block runs in bash -e and must exit 0
- ```console           each `$ command` runs and must exit 0; every other line must appear (spaces
                       collapsed) in that command's output
- ```toml in=PATH      the table must be part of the TOML file PATH (written by an earlier block)

Exported variables carry over from one block to the next, as in one terminal. Commands run in a
virtual environment that sees this aigc (`plugin_fixtures.UserShell`): `pip install -e` is real.
"""

from __future__ import annotations

import re
import shlex
import textwrap
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import write_module
from plugin_fixtures import REPO, UserShell, user_shell  # noqa: F401

DOC = REPO / "docs" / "plugins.md"
FENCE = re.compile(r"^(?P<indent> *)```(?P<info>[^`\n]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)
LANGUAGES = {"python", "sh", "console", "toml"}


@dataclass
class Block:
    line: int
    lang: str
    attrs: dict[str, str]
    body: str

    def where(self) -> str:
        return f"docs/plugins.md:{self.line} ({self.lang} block)"


def blocks(text: str) -> list[Block]:
    found = []
    for match in FENCE.finditer(text):
        words = match["info"].split()
        attrs = dict(word.split("=", 1) for word in words[1:])
        body = textwrap.dedent(match["body"])
        found.append(Block(text.count("\n", 0, match.start()) + 1, words[0] if words else "", attrs, body))
    return found


@dataclass
class Terminal:
    """One scratch folder and the environment a user's shell would carry between commands."""

    shell: UserShell
    cwd: Path
    env: dict[str, str]
    outputs: list[str] = field(default_factory=list)

    def run(self, command: str, where: str) -> str:
        saved = self.cwd / ".env-after"
        script = f"{command}\nenv -0 > {shlex.quote(str(saved))}"
        done = self.shell.run(script, self.cwd, self.env)
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"{where}: `{command}` exited {done.returncode}\n{output[-4000:]}"
        pairs = (item.split("=", 1) for item in saved.read_text().split("\0") if "=" in item)
        self.env = {k: v for k, v in pairs if k not in {"_", "SHLVL", "OLDPWD", "PWD"}}
        saved.unlink()
        self.outputs.append(output)
        return output


def run_block(block: Block, term: Terminal) -> None:
    where = block.where()
    if block.lang == "python" and "file" in block.attrs:
        path = term.cwd / block.attrs["file"]
        path.parent.mkdir(parents=True, exist_ok=True)
        write_module(path, block.body)  # so that a later block may rewrite it
    elif block.lang == "python":
        script = term.cwd / f"block_{block.line}.py"
        script.write_text(block.body)
        term.run(f"python {script.name}", where)
    elif block.lang == "sh":
        term.run(block.body, where)
    elif block.lang == "console":
        for command, expected in console_steps(block.body):
            output = collapse(term.run(command, where))
            for line in expected:
                assert collapse(line) in output, (
                    f"{where}: `{command}` did not print {line!r}; it printed:\n{output[-4000:]}"
                )
    elif block.lang == "toml":
        part = tomllib.loads(block.body)
        whole = tomllib.loads((term.cwd / block.attrs["in"]).read_text())
        assert contains(whole, part), f"{where}: {block.attrs['in']} does not hold {part}"
    else:
        pytest.fail(f"{where}: the test cannot run a block of language {block.lang!r}; use one of {sorted(LANGUAGES)}")


def console_steps(body: str) -> list[tuple[str, list[str]]]:
    steps: list[tuple[str, list[str]]] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif line.strip():
            assert steps, f"console output before any command: {line!r}"
            steps[-1][1].append(line)
    return steps


def collapse(text: str) -> str:
    return " ".join(text.split())


def contains(whole: Any, part: Any) -> bool:
    if isinstance(part, dict):
        return isinstance(whole, dict) and all(k in whole and contains(whole[k], v) for k, v in part.items())
    return whole == part


def test_every_block_of_the_guide_runs(user_shell: UserShell, tmp_path: Path) -> None:  # noqa: F811
    term = Terminal(user_shell, tmp_path, user_shell.env(tmp_path / ".aigc"))
    for block in blocks(DOC.read_text()):
        run_block(block, term)
    # What the guide promises, checked on what it left behind:
    assert (tmp_path / "aigc-demo" / "tests" / "test_demo.py").is_file()
    assert (tmp_path / "plugins" / "blobs.safetensors").is_file()  # the exported bundled model
    assert "passed" in term.outputs[-1]  # the last block ran the guide's own tests


def test_the_guide_has_only_blocks_the_test_runs_and_its_example_fits_on_a_page() -> None:
    found = blocks(DOC.read_text())
    assert {b.lang for b in found} <= LANGUAGES, [b.where() for b in found if b.lang not in LANGUAGES]
    assert DOC.read_text().count("```") == 2 * len(found)  # no fence the parser missed
    [example] = [b for b in found if b.attrs.get("file") == "plugins/blobs.py"]
    assert len(example.body.splitlines()) <= 100
    for method in (
        "def train",
        "def generate",
        "def evaluate",
        "load_checkpoint",
        "save_checkpoint",
        "save_model",
        "load_model",
        "progress",
        "log_metric",
        "add_image",
        "set_summary",
        "ctx.device",
        "ctx.seed",
    ):
        assert method in example.body, f"the worked example no longer shows {method}"
