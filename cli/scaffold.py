"""`aigc plugins new NAME`: write an installable plugin package that works on first run.

The package holds a pyproject with the `aigc.plugins` entry point, the plugin class, its params, a
tiny torch model with its three jobs, a README and a pytest file that runs real jobs through
`aigc.core.plugin_api.run_job`. The files are rendered from the Jinja2 templates in `scaffold_templates/`.
"""

from __future__ import annotations

import keyword
import os
import re
import shutil
import tempfile
from collections.abc import Collection
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

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


# The template folders: `common` for every plugin, then one per modality with its params, network,
# jobs and tests. Each file is a Jinja2 template of the generated file.
TEMPLATES = Path(__file__).with_name("scaffold_templates")


@dataclass(frozen=True)
class Starter:
    """What a modality's starting point is, in the README's words and example commands."""

    description: str
    train_example: str
    generate_example: str
    evaluate_example: str


STARTERS = {
    Modality.image: Starter(
        description="a tiny autoencoder that learns to draw soft disks (a starting point for an image plugin)",
        train_example="-p epochs=5",
        generate_example="-p n=16 -p seed=1",
        evaluate_example="-p images=256",
    ),
    Modality.text: Starter(
        description="a tiny character-level language model (a starting point for a text plugin)",
        train_example="-p corpus=my_text.txt -p steps=500",
        generate_example='-p prompt="Once upon" -p seed=1',
        evaluate_example="-p corpus=my_text.txt",
    ),
}


def render(names: Names, modality: Modality) -> dict[str, str]:
    """Relative path -> file text for the package of `names`."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(
        loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False
    )
    values = {
        "name": names.plugin,
        "dist": names.dist,
        "package": names.package,
        "cls": names.cls,
        "modality": str(modality),
        "contract": CONTRACT_VERSION,
        "aigc_version": _aigc_version(),
        **asdict(STARTERS[modality]),
    }
    files = {
        "pyproject.toml": "common/pyproject.toml.j2",
        "README.md": "common/README.md.j2",
        f"{names.package}/__init__.py": "common/__init__.py.j2",
        f"{names.package}/params.py": f"{modality}/params.py.j2",
        f"{names.package}/networks.py": f"{modality}/networks.py.j2",
        f"{names.package}/jobs.py": f"{modality}/jobs.py.j2",
        f"tests/test_{names.plugin}.py": f"{modality}/test_plugin.py.j2",
    }
    return {path: env.get_template(template).render(values) for path, template in files.items()}


def _aigc_version() -> str:
    try:
        return version("aigc")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.1.0"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
