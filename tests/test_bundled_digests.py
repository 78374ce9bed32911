"""Bundled models ship with their sha256 and are checked against it on every load, as trained models are.

A damaged copy is made real: a drop-in plugin (a subclass of a built-in one, found on AIGC_PLUGIN_PATH)
whose package folder holds a copy of the built-in bundled model and of its digest file, with 64 bytes
of the copy flipped, as a disk or a bad download would."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import cli, env_for, write_module

from aigc.core.artifacts import digest_file, sha256_of, shipped_sha256, verify_shipped
from aigc.core.catalog import bundled_path
from aigc.core.errors import ArtifactCorrupt
from aigc.plugins.diffusion import DiffusionPlugin
from aigc.plugins.gan import GanPlugin
from aigc.plugins.text import TextPlugin
from aigc.plugins.vae import VaePlugin

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = ROOT / "plugins"
SCRIPT = ROOT / "scripts" / "bundled_digests.py"
REINSTALL = "reinstall aigc (pip install --force-reinstall aigc)"
RESTORE = "restore the plugin's files from where they came from"


def flip_64_bytes(path: Path) -> None:
    """Invert 64 bytes in the middle of a file: inside its tensor data, past the safetensors header."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(b ^ 0xFF for b in data[middle : middle + 64])
    path.write_bytes(bytes(data))


def test_every_shipped_model_carries_a_digest_that_matches_it():
    spec = importlib.util.spec_from_file_location("bundled_digests", SCRIPT)
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    shipped = {ROOT / name for name in script.SHIPPED}
    # The script's list misses no bundled model of a built-in plugin, no checkpoint in a plugin's package
    # and no example's bundled model.
    built_in = {bundled_path(plugin) for plugin in (GanPlugin, VaePlugin, TextPlugin, DiffusionPlugin)}
    checkpoints = set(PLUGINS.glob("*/*.safetensors")) | set(ROOT.glob("examples/*/*/*.safetensors"))
    assert built_in | checkpoints <= shipped
    for path in shipped:
        assert shipped_sha256(path) == sha256_of(path), f"{path}: run python scripts/bundled_digests.py"
    done = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr) == (0, "")


def test_the_text_model_folder_is_digested_as_the_artifact_store_digests_folders():
    folder = bundled_path(TextPlugin)
    assert folder is not None and folder.is_dir()
    assert digest_file(folder) == PLUGINS / "text" / "default.sha256"
    assert shipped_sha256(folder) == sha256_of(folder)  # aigc.core.artifacts.folder_sha256


DROP_IN = '''
from aigc.plugins.{package} import {base}


class Copy({base}):
    """The built-in plugin, reading the bundled model beside this file."""

    name = "{name}"
'''


def drop_in_copy(folder: Path, package: str, base: str, *, damage: bool, digest: bool = True) -> str:
    """A drop-in plugin `<package>copy` whose bundled model is a copy of the built-in one."""
    name = f"{package}copy"
    plugin = {"gan": GanPlugin, "vae": VaePlugin, "text": TextPlugin}[package]
    source = bundled_path(plugin)
    assert source is not None
    folder.mkdir(parents=True, exist_ok=True)
    write_module(folder / f"{name}.py", DROP_IN.format(package=package, base=base, name=name))
    copy = folder / source.name
    if source.is_dir():
        shutil.copytree(source, copy)
    else:
        shutil.copyfile(source, copy)
    if digest:
        shutil.copyfile(digest_file(source), digest_file(copy))
    if damage:
        flip_64_bytes(copy / "model.safetensors" if copy.is_dir() else copy)
    return name


def run_job_cli(settings, folder: Path, *args: str):
    env = env_for(replace(settings, plugin_path=(folder,)), AIGC_PLUGIN_PATH=str(folder), COLUMNS="500")
    done = cli(settings, *args, env=env, timeout=300)
    shown = cli(settings, "jobs", "show", "1", "--json", env=env)
    return done, json.loads(shown.stdout) if shown.returncode == 0 else None


def test_an_intact_copy_generates(sqlite_settings, tmp_path):
    folder = tmp_path / "plugins"
    name = drop_in_copy(folder, "gan", "GanPlugin", damage=False)
    done, job = run_job_cli(
        sqlite_settings, folder, "submit", "generate", "--plugin", name, "-p", "n=8", "-p", "seed=1"
    )
    assert done.returncode == 0, done.stderr
    assert job["status"] == "succeeded"


def test_a_damaged_bundled_model_fails_the_job_in_one_line(sqlite_settings, tmp_path):
    folder = tmp_path / "plugins"
    name = drop_in_copy(folder, "gan", "GanPlugin", damage=True)
    copy = folder / "default.safetensors"
    done, job = run_job_cli(
        sqlite_settings, folder, "submit", "generate", "--plugin", name, "-p", "n=8", "-p", "seed=1"
    )
    expected = (
        f"bundled model {copy} of plugin 'gancopy' is damaged: its sha256 {sha256_of(copy)[:12]} does not match "
        f"the {shipped_sha256(copy)[:12]} shipped with it; {RESTORE}"
    )
    assert done.returncode == 1
    assert (job["status"], job["error"]) == ("failed", expected)  # once: succeeded, 8 of 8 images different
    assert f"error: {expected}" in done.stderr
    assert json.loads(cli(sqlite_settings, "results", "1", "--json").stdout) == []


def test_a_damaged_bundled_model_folder_is_refused_at_submit(sqlite_settings, tmp_path):
    """An embedded text job reads its model's context size at submit: the damage is found before any row."""
    folder = tmp_path / "plugins"
    name = drop_in_copy(folder, "text", "TextPlugin", damage=True)
    copy = folder / "default"
    done, job = run_job_cli(sqlite_settings, folder, "submit", "generate", "--plugin", name, "--prompt", "ROMEO:")
    expected = (
        f"bundled model {copy} of plugin 'textcopy' is damaged: its sha256 {sha256_of(copy)[:12]} does not match "
        f"the {shipped_sha256(copy)[:12]} shipped with it; {RESTORE}"
    )
    assert (done.returncode, done.stderr) == (1, f"error: {expected}\n")
    assert job is None  # nothing stored


def test_a_bundled_model_without_its_digest_is_refused(sqlite_settings, tmp_path):
    folder = tmp_path / "plugins"
    name = drop_in_copy(folder, "vae", "VaePlugin", damage=False, digest=False)
    done, job = run_job_cli(sqlite_settings, folder, "submit", "generate", "--plugin", name, "-p", "n=2")
    assert done.returncode == 1
    assert job["error"] == (
        f"bundled model {folder / 'default.safetensors'} of plugin 'vaecopy' has no sha256 digest beside it "
        f"(default.safetensors.sha256); {RESTORE}"
    )


def test_a_damaged_file_of_aigc_says_to_reinstall_aigc(tmp_path):
    # What a user of an installed aigc sees: the advice names the distribution that ships the module.
    source = PLUGINS / "gan" / "classifier.safetensors"
    copy = tmp_path / source.name
    shutil.copyfile(source, copy)
    shutil.copyfile(digest_file(source), digest_file(copy))
    assert verify_shipped(copy, f"classifier {copy}", "aigc.plugins.gan.classifier") == sha256_of(source)
    flip_64_bytes(copy)
    with pytest.raises(ArtifactCorrupt) as caught:
        verify_shipped(copy, f"classifier {copy} of plugin 'gan'", "aigc.plugins.gan.classifier")
    assert str(caught.value) == (
        f"classifier {copy} of plugin 'gan' is damaged: its sha256 {sha256_of(copy)[:12]} does not match "
        f"the {sha256_of(source)[:12]} shipped with it; {REINSTALL}"
    )
    from aigc.plugins.gan.classifier import load_classifier

    with pytest.raises(ArtifactCorrupt, match="is damaged"):
        load_classifier("cpu", path=copy)  # the FID classifier is checked too


def test_export_writes_the_digest_beside_the_model(sqlite_settings, tmp_path):
    target = tmp_path / "out" / "gan.safetensors"
    done = cli(sqlite_settings, "models", "export", "default", str(target), "--plugin", "gan")
    assert done.returncode == 0, done.stderr
    assert shipped_sha256(target) == sha256_of(target) == shipped_sha256(bundled_path(GanPlugin))
    assert digest_file(target).read_text() == f"{sha256_of(target)}  gan.safetensors\n"
    listed = json.loads(cli(sqlite_settings, "models", "--plugin", "gan", "--json").stdout)
    assert [m["sha256"] for m in listed] == [shipped_sha256(bundled_path(GanPlugin))]
