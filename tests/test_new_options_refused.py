"""The options and settings of sweeps, dependencies, operations and GPU workers, the vae plugin's split
and size params, the gan plugin's `refine` and the text plugin's `validation` refuse bad values the same
way as the rest of the CLI: one line naming the value and what is accepted, exit code 2, nothing stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import cli, env_for

README = str(Path(__file__).resolve().parents[1] / "README.md")  # any existing UTF-8 file will do as a corpus
CASES = [
    (("submit", "generate", "--plugin", "toy", "--label", "loud"), {}, "label 'loud' is not known; accepted: visible"),
    (("submit", "generate", "--plugin", "toy", "--timeout", "5x"), {}, "--timeout '5x' is not a duration; accepted:"),
    (("submit", "generate", "--plugin", "toy", "--after", "abc"), {}, "malformed job id 'abc'"),
    (("submit", "generate", "--plugin", "toy", "--notify", "ftp://x"), {}, "ftp://x"),
    (("prune", "--older-than", "soon"), {}, "--older-than 'soon' is not a duration"),
    (("sweep", "generate", "--plugin", "toy", "-p", "n=1,2", "--max-parallel", "0"), {}, "'--max-parallel'"),
    (("sweep", "generate", "--plugin", "toy", "-p", "n=1..3", "--random", "0"), {}, "'--random'"),
    (("sweep", "generate", "--plugin", "toy", "-p", "n=1,2", "--then", "nothing"), {}, "got 'nothing'"),
    (("submit", "generate", "--plugin", "toy"), {"AIGC_MODEL_CACHE": "lots"}, "AIGC_MODEL_CACHE='lots' is not valid"),
    (("tokens", "create", "bad name"), {}, "token name 'bad name' is not valid"),
    (("submit", "train", "--plugin", "vae", "-p", "blocks=9"), {}, "invalid param 'blocks' for vae train"),
    (("submit", "train", "--plugin", "vae", "-p", "test=-1"), {}, "invalid param 'test' for vae train"),
    (("submit", "evaluate", "--plugin", "vae", "-p", "split=train"), {}, "invalid param 'split' for vae evaluate"),
    (("submit", "evaluate", "--plugin", "vae", "-p", "holdout=5"), {}, "holdout not used by split=test"),
    (("submit", "evaluate", "--plugin", "vae", "-p", "split=all", "-p", "test=3"), {}, "test not used by split=all"),
    (("submit", "train", "--plugin", "gan", "-p", "refine=maybe"), {}, "invalid param 'refine' for gan train"),
    (
        ("submit", "train", "--plugin", "text", "-p", f"corpus={README}", "-p", "validation=/no/such/plays"),
        {},
        "validation /no/such/plays not found; give a text file, a folder of .txt files or a glob",
    ),
]


@pytest.mark.parametrize(("args", "extra", "said"), CASES, ids=[" ".join(c[0][:2] + c[0][-2:]) for c in CASES])
def test_a_bad_value_is_one_line_and_stores_nothing(sqlite_settings, args, extra, said):
    refused = cli(sqlite_settings, *args, env=env_for(sqlite_settings, **extra))
    assert refused.returncode == 2, refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and said in lines[0], refused.stderr
    listed = cli(sqlite_settings, "jobs", "list", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout) == []
    sweeps = cli(sqlite_settings, "sweeps", "list", "--json")
    assert sweeps.returncode == 0 and json.loads(sweeps.stdout) == []
    tokens = cli(sqlite_settings, "tokens", "list", "--json")
    assert tokens.returncode == 0 and json.loads(tokens.stdout) == []
