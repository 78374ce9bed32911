"""Shell completion through Typer/Click's own protocol, as bash, zsh and fish call it: plugin names, the
param keys of the plugin and job kind on the command line, job ids; and the scripts it installs."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import cli, env_for


def tab(settings, line: str, shell: str = "bash", **extra: str) -> subprocess.CompletedProcess[str]:
    """What `aigc` answers when TAB is pressed at the end of `line` (a trailing space: a new word)."""
    env = env_for(settings, **extra)
    if shell == "bash":
        words = line.split(" ")
        env.update(_AIGC_COMPLETE="complete_bash", COMP_WORDS=line, COMP_CWORD=str(len(words) - 1))
    else:
        env.update(_AIGC_COMPLETE=f"complete_{shell}", _TYPER_COMPLETE_ARGS=line)
        if shell == "fish":
            env["_TYPER_COMPLETE_FISH_ACTION"] = "get-args"
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "aigc.cli"], env=env, capture_output=True, text=True, timeout=60
    )


def candidates(settings, line: str) -> list[str]:
    done = tab(settings, line)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not [m for m in ("torch", "transformers") if f"| {m}\n" in done.stderr]  # nothing heavy for a TAB
    return done.stdout.split()


def test_plugin_names(sqlite_settings):
    assert candidates(sqlite_settings, "aigc submit generate --plugin ") == [
        "chatter",
        "diffusion",
        "gan",
        "text",
        "toy",
        "vae",
    ]
    assert candidates(sqlite_settings, "aigc submit generate --plugin g") == ["gan"]
    assert candidates(sqlite_settings, "aigc plugins show v") == ["vae"]
    assert candidates(sqlite_settings, "aigc jobs list --plugin t") == ["text", "toy"]


def test_param_keys_follow_the_plugin_and_the_job_kind(sqlite_settings):
    generate = candidates(sqlite_settings, "aigc submit generate --plugin gan -p ")
    assert {"n=", "seed=", "device=", "model="} <= set(generate) and "epochs=" not in generate
    train = candidates(sqlite_settings, "aigc submit train --plugin gan -p ")
    assert {"epochs=", "batch_size=", "seed="} <= set(train) and "n=" not in train
    assert candidates(sqlite_settings, "aigc submit generate --plugin toy -p ") == [
        "seed=",
        "device=",
        "n=",
        "size=",
        "fail=",
        "sleep=",
        "chatty=",
    ]
    assert candidates(sqlite_settings, "aigc submit generate --plugin toy -p n=3 -p s") == ["seed=", "size=", "sleep="]
    assert candidates(sqlite_settings, "aigc submit generate -p ") == []  # no plugin named yet
    assert candidates(sqlite_settings, "aigc submit generate --plugin nope -p ") == []


def test_param_values_and_help_in_zsh_and_fish(sqlite_settings):
    zsh = tab(sqlite_settings, "aigc submit generate --plugin toy -p fa", shell="zsh")
    assert zsh.stdout.strip() == """_arguments '*: :(("fail=":"raise after the first image"))'"""
    fish = tab(sqlite_settings, "aigc submit train --plugin text -p tokenizer=", shell="fish")
    assert fish.stdout.splitlines() == ["tokenizer=char", "tokenizer=bpe"]
    boolean = tab(sqlite_settings, "aigc submit generate --plugin toy -p fail=", shell="fish")
    assert boolean.stdout.splitlines() == ["fail=true", "fail=false"]


def test_job_ids_newest_first_with_what_each_is(sqlite_settings):
    assert candidates(sqlite_settings, "aigc jobs show ") == []  # no store yet: nothing, and no error
    for _ in range(2):
        assert cli(sqlite_settings, "submit", "generate", "--plugin", "toy").returncode == 0
    assert candidates(sqlite_settings, "aigc jobs show ") == ["2", "1"]
    assert candidates(sqlite_settings, "aigc results ") == ["2", "1"]
    assert candidates(sqlite_settings, "aigc jobs cancel 1") == ["1"]
    fish = tab(sqlite_settings, "aigc jobs wait ", shell="fish")
    assert fish.stdout.splitlines() == ["2\tsucceeded toy generate", "1\tsucceeded toy generate"]


def test_job_ids_from_postgres(empty_postgres_url, sqlite_settings):
    from dataclasses import replace

    settings = replace(sqlite_settings, database_url=empty_postgres_url)
    assert cli(settings, "submit", "generate", "--plugin", "toy").returncode == 0
    assert candidates(settings, "aigc jobs show ") == ["1"]


def test_statuses_and_commands(sqlite_settings):
    assert candidates(sqlite_settings, "aigc jobs list --status ") == [
        "queued",
        "running",
        "succeeded",
        "failed",
        "cancelled",
    ]
    assert {"submit", "doctor", "plugins", "results"} <= set(candidates(sqlite_settings, "aigc "))


def test_a_broken_setting_completes_nothing_and_prints_no_error(sqlite_settings):
    done = tab(sqlite_settings, "aigc submit generate --plugin ", AIGC_LEASE_SECONDS="abc")
    assert done.returncode == 0 and done.stdout.strip() == ""
    assert [line for line in done.stderr.splitlines() if not line.startswith("import time:")] == []


@pytest.mark.parametrize(
    ("shell", "script", "sourced_from"),
    [
        ("bash", ".bash_completions/aigc.sh", ".bashrc"),
        ("zsh", ".zfunc/_aigc", ".zshrc"),
        ("fish", ".config/fish/completions/aigc.fish", None),
    ],
)
def test_install_completion_for_each_shell(sqlite_settings, tmp_path, shell, script, sourced_from):
    env = env_for(sqlite_settings, HOME=str(tmp_path), _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1")
    done = subprocess.run(
        [sys.executable, "-m", "aigc.cli", "--install-completion", shell], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    installed = (tmp_path / script).read_text()
    assert f"_AIGC_COMPLETE=complete_{shell}" in installed.replace("env ", "")
    if sourced_from:
        assert script.rsplit("/", 1)[0] in (tmp_path / sourced_from).read_text()
