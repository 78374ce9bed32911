"""`aigc plugins new NAME`: a package that is found through its entry point and passes its own tests
unedited; names that are not identifiers and existing folders are refused in one line, writing nothing.

The user's whole path (`aigc plugins new demo`, `pip install -e aigc-demo`, `aigc plugins`, `pytest
aigc-demo`) runs for real in test_docs_plugins.py: it is the guide's quick start."""

from __future__ import annotations

import importlib.util
import inspect
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from aigc.cli.scaffold import Names, create
from aigc.core.errors import UsageError
from aigc.core.plugin import CONTRACT_VERSION
from aigc.core.registry import discover


@pytest.mark.parametrize(("modality", "count"), [("image", 4), ("text", 5)])
def test_scaffolded_plugin_passes_its_own_tests_through_its_entry_point(
    modality: str, count: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_registry: None
) -> None:
    """Without pip (the real `pip install -e` and `pytest` of a scaffolded package run in
    test_docs_plugins.py, the guide's quick start): the package's folder and a .dist-info holding its
    pyproject's entry points go on sys.path, and its own test functions run unedited in this process."""
    name = f"own_{modality}"
    names = Names.of(name)
    root = create(name, tmp_path, modality)
    groups = tomllib.loads((root / "pyproject.toml").read_text())["project"]["entry-points"]
    assert groups == {"aigc.plugins": {name: f"{names.package}:{names.cls}"}}
    dist = root / f"{names.package}-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {names.dist}\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text(f"[aigc.plugins]\n{name} = {groups['aigc.plugins'][name]}\n")
    monkeypatch.syspath_prepend(str(root))

    listed = discover().get(name)
    assert listed is not None, sorted(discover())
    assert listed.ok and listed.package == names.dist, listed.error
    tests = own_tests(root / "tests" / f"test_{name}.py")
    assert len(tests) == count
    for test_name, test in tests.items():
        (tmp_path / test_name).mkdir()
        test(tmp_path / test_name)
    for module in [m for m in sys.modules if m.split(".")[0] in (names.package, f"scaffolded_{name}")]:
        monkeypatch.delitem(sys.modules, module)


@pytest.fixture
def fresh_registry() -> Iterator[None]:
    """The registry scans once per process; this test installs a plugin, so it rescans, before and after."""
    discover.cache_clear()
    yield
    discover.cache_clear()


def own_tests(path: Path) -> dict[str, Callable[[Path], None]]:
    spec = importlib.util.spec_from_file_location(f"scaffolded_{path.stem.removeprefix('test_')}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tests = {name: fn for name, fn in vars(module).items() if name.startswith("test_") and callable(fn)}
    for name, test in tests.items():
        assert list(inspect.signature(test).parameters) == ["tmp_path"], f"{name} needs more than tmp_path"
    return tests


def test_the_package_states_the_contract_and_its_entry_point(tmp_path: Path) -> None:
    root = create("my_gen", tmp_path, "image")
    assert root == tmp_path / "aigc-my-gen"
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) == [
        "README.md",
        "aigc_my_gen/__init__.py",
        "aigc_my_gen/jobs.py",
        "aigc_my_gen/networks.py",
        "aigc_my_gen/params.py",
        "pyproject.toml",
        "tests/test_my_gen.py",
    ]
    plugin = (root / "aigc_my_gen" / "__init__.py").read_text()
    assert "class MyGenPlugin(Plugin):" in plugin and 'name = "my_gen"' in plugin
    assert f"contract = {CONTRACT_VERSION}  #" in plugin  # the number, not the constant: it must not follow upgrades
    assert 'train = job("aigc_my_gen.jobs:train")' in plugin  # imported when a job runs: no torch here
    assert "import torch" not in plugin + (root / "aigc_my_gen" / "params.py").read_text()
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert project["name"] == "aigc-my-gen"
    assert project["entry-points"]["aigc.plugins"] == {"my_gen": "aigc_my_gen:MyGenPlugin"}


@pytest.mark.parametrize("modality", ["image", "text"])
def test_the_package_imports_aigc_only_through_the_plugin_api(modality: str, tmp_path: Path) -> None:
    root = create("api_only", tmp_path, modality)
    imported = [
        line.split()[1]
        for path in root.rglob("*.py")
        for line in path.read_text().splitlines()
        if line.startswith(("from ", "import "))
    ]
    imports = [name for name in imported if name.split(".")[0] == "aigc"]
    assert imports and set(imports) == {"aigc.core.plugin_api"}


@pytest.mark.parametrize("name", ["3d", "my-plugin", "class", "", "naïve", "a b", "x.y", "_private"])
def test_names_that_are_not_identifiers_are_refused(name: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is not a valid identifier"):
        create(name, tmp_path, "image")
    assert list(tmp_path.iterdir()) == []


def test_names_map_to_a_distribution_a_package_and_a_class() -> None:
    assert Names.of("demo") == Names("demo", "aigc-demo", "aigc_demo", "DemoPlugin")
    assert Names.of("style_transfer") == Names(
        "style_transfer", "aigc-style-transfer", "aigc_style_transfer", "StyleTransferPlugin"
    )


def aigc(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`aigc ARGS` in this process, through the same `main` as the console script: (exit code, out, err)."""
    from aigc.cli.main import main

    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    captured = capsys.readouterr()
    return int(exit_.value.code or 0), captured.out, captured.err


def test_cli_refuses_bad_names_existing_folders_and_taken_names_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    parent = tmp_path / "work"

    def new(*args: str) -> tuple[int, str, list[str]]:
        code, out, err = aigc(capsys, "plugins", "new", *args, "--dir", str(parent))
        return code, out, err.splitlines()

    code, out, err = new("3d")
    assert (code, out) == (2, "")
    assert err == [
        "error: plugin name '3d' is not a valid identifier; use ASCII letters, digits and underscores, "
        "starting with a letter, and not a Python keyword (e.g. my_plugin)"
    ]
    existing = parent / "aigc-demo"
    existing.mkdir(parents=True)
    (existing / "mine.txt").write_text("keep me")
    already = f"error: {existing} already exists; nothing was written (choose another name or --dir)"
    assert new("demo")[::2] == (2, [already])
    assert [p.name for p in existing.iterdir()] == ["mine.txt"]

    # A drop-in plugin of the test suite is already named 'toy'.
    taken = "error: a plugin named 'toy' is already installed (see `aigc plugins`); choose another name"
    assert new("toy")[::2] == (2, [taken])
    assert new("sound", "--modality", "audio")[::2] == (2, ["error: unknown modality 'audio'; accepted: image, text"])
    (tmp_path / "file").write_text("")
    code, _, err = aigc(capsys, "plugins", "new", "demo", "--dir", str(tmp_path / "file"))
    assert (code, err.splitlines()) == (2, [f"error: --dir {tmp_path / 'file'} is not a folder"])
    assert [p.name for p in parent.iterdir()] == ["aigc-demo"]


def test_plugins_new_imports_neither_torch_nor_transformers(tmp_path: Path) -> None:
    script = (
        "import sys\nfrom aigc.cli.main import main\ntry:\n    main(sys.argv[1:])\nfinally:\n"
        "    print('HEAVY', sorted(m for m in ('torch', 'transformers') if m in sys.modules), file=sys.stderr)\n"
    )
    for modality in ("image", "text"):
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                script,
                "plugins",
                "new",
                f"lean_{modality}",
                "--modality",
                modality,
                "--dir",
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert "HEAVY []" in done.stderr
        assert (tmp_path / f"aigc-lean-{modality}" / f"aigc_lean_{modality}" / "jobs.py").is_file()


def test_nothing_is_left_behind_when_writing_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_rename(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("aigc.cli.scaffold.os.rename", no_rename)
    with pytest.raises(UsageError, match=f"cannot write {tmp_path / 'aigc-demo'}: disk full; nothing was written"):
        create("demo", tmp_path, "image")
    assert list(tmp_path.iterdir()) == []  # neither the package nor its staging folder
