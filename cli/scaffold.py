"""`aigc plugins new NAME`: write an installable plugin package that works on first run.

The package holds a pyproject with the `aigc.plugins` entry point, the plugin class with its params,
a tiny torch model with its three jobs, a README and a pytest file that runs real jobs through
`aigc.core.testing`. The files come from the templates in `scaffold_image` / `scaffold_text`.
"""

from __future__ import annotations

import keyword
import os
import re
import shutil
import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from string import Template

from aigc.core.errors import UsageError
from aigc.core.plugin import CONTRACT_VERSION, Modality

IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Names:
    """Every name the package uses, derived from the plugin name."""

    plugin: str  # demo: the name in `aigc plugins`, and the entry point's name
    dist: str  # aigc-demo: the distribution (pip install) and the folder
    package: str  # aigc_demo: the import package
    cls: str  # DemoPlugin

    @classmethod
    def of(cls, name: str) -> Names:
        check_name(name)
        return cls(
            plugin=name,
            dist="aigc-" + name.replace("_", "-").strip("-"),
            package="aigc_" + name,
            cls="".join(part[:1].upper() + part[1:] for part in name.split("_")) + "Plugin",
        )


def check_name(name: str) -> None:
    if not IDENTIFIER.fullmatch(name) or keyword.iskeyword(name):
        raise UsageError(
            f"plugin name '{name}' is not a valid identifier; use ASCII letters, digits and underscores, "
            "starting with a letter, and not a Python keyword (e.g. my_plugin)"
        )


def create(name: str, parent: Path, modality: str, taken: Collection[str] = ()) -> Path:
    """Write the package into `parent/aigc-NAME` and return that folder; nothing is written on error.

    `taken` holds the names of plugins already installed: a second plugin of the same name would
    make both unusable, so the name is refused up front.
    """
    names = Names.of(name)
    if modality not in set(Modality):
        raise UsageError(f"unknown modality '{modality}'; accepted: {', '.join(Modality)}")
    if name in taken:
        raise UsageError(f"a plugin named '{name}' is already installed (see `aigc plugins`); choose another name")
    target = parent / names.dist
    if target.exists() or target.is_symlink():
        raise UsageError(f"{target} already exists; nothing was written (choose another name or --dir)")
    if parent.exists() and not parent.is_dir():
        raise UsageError(f"--dir {parent} is not a folder")
    files = render(names, Modality(modality))
    staging: Path | None = None
    try:
        parent.mkdir(parents=True, exist_ok=True)
        # Written aside, then renamed into place: a failure never leaves a half-written package behind.
        staging = Path(tempfile.mkdtemp(prefix=f".{names.dist}-", dir=parent))
        for relative, text in files.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        os.chmod(staging, 0o777 & ~_umask())
        os.rename(staging, target)
    except BaseException as exc:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):
            raise UsageError(f"cannot write {target}: {exc.strerror or exc}; nothing was written") from exc
        raise
    return target


# The generated `__init__.py` around a modality's PARAMS: the imports, then the plugin class.
PLUGIN_HEAD = '''\
"""${name}: ${description}.

Importing this module must stay cheap (no torch): `aigc plugins` imports it to list the plugin.
The job methods import `jobs`, which imports torch, only when a job runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from aigc.core.plugin import JobParams, Modality, ModelParams, Plugin

if TYPE_CHECKING:
    from aigc.core.context import JobContext
'''

PLUGIN_CLASS = '''\
class ${cls}(Plugin):
    name = "${name}"
    modality = Modality.${modality}
    description = "${description}"
    contract = ${contract}  # the aigc plugin contract this plugin was written for
    queue = "cpu"  # "gpu" would send its jobs to GPU workers only; this model is fine on a CPU
    bundled_model = None  # e.g. "default.safetensors": a file in this package, used until one is trained

    TrainParams: ClassVar[type[JobParams]] = TrainParams
    GenerateParams: ClassVar[type[JobParams]] = GenerateParams
    EvaluateParams: ClassVar[type[JobParams]] = EvaluateParams

    def train(self, ctx: JobContext, params: JobParams) -> None:
        from ${package}.jobs import train

        assert isinstance(params, TrainParams)
        train(ctx, params)

    def generate(self, ctx: JobContext, params: JobParams) -> None:
        from ${package}.jobs import generate

        assert isinstance(params, GenerateParams)
        generate(ctx, params)

    def evaluate(self, ctx: JobContext, params: JobParams) -> None:
        from ${package}.jobs import evaluate

        assert isinstance(params, EvaluateParams)
        evaluate(ctx, params)
'''


def render(names: Names, modality: Modality) -> dict[str, str]:
    """Relative path -> file text for the package of `names`."""
    if modality is Modality.image:
        from aigc.cli import scaffold_image as templates
    else:
        from aigc.cli import scaffold_text as templates
    values = {
        "name": names.plugin,
        "dist": names.dist,
        "package": names.package,
        "cls": names.cls,
        "modality": str(modality),
        "contract": str(CONTRACT_VERSION),
        "aigc_version": _aigc_version(),
        "description": templates.DESCRIPTION,
        "train_example": templates.TRAIN_EXAMPLE,
        "generate_example": templates.GENERATE_EXAMPLE,
        "evaluate_example": templates.EVALUATE_EXAMPLE,
    }
    files = {
        "pyproject.toml": PYPROJECT,
        "README.md": README,
        f"{names.package}/__init__.py": PLUGIN_HEAD + templates.PARAMS + PLUGIN_CLASS,
        f"{names.package}/networks.py": templates.NETWORKS,
        f"{names.package}/jobs.py": templates.JOBS,
        f"tests/test_{names.plugin}.py": templates.TESTS,
    }
    return {path: Template(text).substitute(values) for path, text in files.items()}


def _aigc_version() -> str:
    try:
        return version("aigc")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.1.0"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


PYPROJECT = """\
[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[project]
name = "${dist}"
version = "0.1.0"
description = "${description}"
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["aigc>=${aigc_version}", "torch>=2.4"]

[project.optional-dependencies]
test = ["pytest>=8"]

# This entry point is what makes the package an aigc plugin: `aigc plugins` finds "${name}" through it.
[project.entry-points."aigc.plugins"]
${name} = "${package}:${cls}"

[tool.setuptools]
packages = ["${package}"]

# Ship a default model inside the package: put the file here and set `bundled_model` on the class.
[tool.setuptools.package-data]
${package} = ["*.safetensors"]

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

README = """\
# ${dist}

An aigc plugin: ${description}.

## Install and try it

In this folder:

```sh
pip install -e .  # registers the plugin through its entry point
aigc plugins  # lists '${name}'
aigc plugins show ${name}  # every param: type, default, limits, help
aigc submit train --plugin ${name} ${train_example}
aigc submit generate --plugin ${name} ${generate_example}
aigc submit evaluate --plugin ${name} ${evaluate_example}
```

## Test it

```sh
pytest
```

The tests run real jobs against a temporary store with `aigc.core.testing.run_job`.

## Layout

- `${package}/__init__.py`: the plugin class `${cls}` and its params (pydantic, no torch import,
  so listing plugins stays fast).
- `${package}/networks.py`: the network, in one file.
- `${package}/jobs.py`: the train, generate and evaluate jobs; they report through the `JobContext`.
- `tests/test_${name}.py`: the tests.

Written for aigc plugin contract v${contract} (`contract = ${contract}` on the class). See `docs/plugins.md`
in aigc for the whole contract: progress and cancellation, checkpoints, results, models, devices, seeds.
To ship a default model, export a trained one into the package
(`aigc models export ID ${package}/default.safetensors`) and set `bundled_model = "default.safetensors"`.
"""
