"""Images in the terminal: the encoders' exact output, which way a terminal is spoken to, and the real
`aigc submit --out` / `aigc results` in a pseudo-terminal, against a pipe."""

from __future__ import annotations

import base64
import json
import os
import pty
import re

import numpy as np
import pytest
from conftest import cli, env_for
from terminal_fixtures import in_terminal

from aigc.cli import preview, terminal_images
from aigc.core.images import decode_png, encode_png

ESC = "\x1b"
PIXELS = np.array([[0, 255], [128, 64], [10, 20]], dtype=np.uint8)  # 3 rows: the last pair is padded black


def test_halfblocks_exact_output_in_truecolor_256_colours_and_mono():
    assert terminal_images.halfblocks(PIXELS, "truecolor") == (
        f"{ESC}[38;2;0;0;0;48;2;128;128;128m▀{ESC}[38;2;255;255;255;48;2;64;64;64m▀{ESC}[0m\n"
        f"{ESC}[38;2;10;10;10;48;2;0;0;0m▀{ESC}[38;2;20;20;20;48;2;0;0;0m▀{ESC}[0m\n"
    )
    assert terminal_images.halfblocks(PIXELS, "256") == (
        f"{ESC}[38;5;16;48;5;244m▀{ESC}[38;5;231;48;5;238m▀{ESC}[0m\n"
        f"{ESC}[38;5;232;48;5;16m▀{ESC}[38;5;233;48;5;16m▀{ESC}[0m\n"
    )
    assert terminal_images.halfblocks(PIXELS, "mono") == "▄▀\n  \n"


def test_halfblocks_repeat_no_escape_while_the_colours_stay_the_same():
    flat = np.full((2, 5, 3), (200, 10, 30), dtype=np.uint8)
    assert terminal_images.halfblocks(flat) == f"{ESC}[38;2;200;10;30;48;2;200;10;30m▀▀▀▀▀{ESC}[0m\n"


def test_kitty_sends_the_png_in_chunks_of_4096_with_one_header():
    png = encode_png(np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8))
    text = terminal_images.kitty(png, columns=20)
    packets = re.findall(f"{ESC}_G([^;]*);([^{ESC}]*){ESC}\\\\", text)
    assert text.endswith(f"{ESC}\\\n") and len(packets) > 1
    assert "".join(f"{ESC}_G{c};{d}{ESC}\\" for c, d in packets) + "\n" == text  # nothing between the packets
    controls = [c for c, _ in packets]
    assert controls[0] == "a=T,f=100,q=2,c=20,m=1"
    assert controls[1:-1] == ["m=1"] * (len(packets) - 2) and controls[-1] == "m=0"
    assert all(len(d) <= 4096 for _, d in packets) and all(len(d) == 4096 for _, d in packets[:-1])
    assert base64.standard_b64decode("".join(d for _, d in packets)) == png


def test_iterm2_inline_image_framing():
    png = encode_png(np.zeros((4, 4), np.uint8))
    text = terminal_images.iterm2(png, columns=12)
    head, _, data = text.partition(":")
    assert head == f"{ESC}]1337;File=inline=1;size={len(png)};width=12;preserveAspectRatio=1"
    assert data.endswith("\x07\n") and base64.standard_b64decode(data[:-2]) == png


def test_sixel_framing_palette_and_bands():
    pixels = np.zeros((7, 3), np.uint8)
    pixels[:, 1] = 255  # a white middle column, 7 rows: two bands of six
    text = terminal_images.sixel(pixels)
    assert text.startswith(f'{ESC}Pq"1;1;3;7') and text.endswith(f"{ESC}\\\n")
    assert text.count("-") == 2  # one graphics newline per band
    assert re.search(r"#\d+;2;100;100;100", text) and re.search(r"#\d+;2;0;0;0", text)


def test_shrink_averages_blocks():
    pixels = np.array([[0, 100, 200, 200], [100, 200, 200, 200]], dtype=np.uint8)
    assert preview.shrink(pixels, 2).tolist() == [[100, 200]]


@pytest.mark.parametrize(
    ("env", "mode"),
    [
        ({"TERM": "xterm-256color"}, "blocks"),
        ({"TERM": "xterm-kitty"}, "kitty"),
        ({"TERM": "xterm-256color", "KITTY_WINDOW_ID": "3"}, "kitty"),
        ({"TERM": "xterm-256color", "TERM_PROGRAM": "iTerm.app"}, "iterm"),
        ({"TERM": "tmux-256color", "KITTY_WINDOW_ID": "3"}, "blocks"),  # a multiplexer drops image escapes
        ({"TERM": "xterm-kitty", "TMUX": "/tmp/tmux-0/default,1,0"}, "blocks"),
        ({"TERM": "dumb"}, None),
        ({"TERM": "xterm-256color", "AIGC_PREVIEW": "sixel"}, "sixel"),
        ({"TERM": "xterm-kitty", "AIGC_PREVIEW": "off"}, None),
    ],
)
def test_terminal_mode_is_chosen_conservatively(monkeypatch, env, mode):
    monkeypatch.delenv("AIGC_PREVIEW", raising=False)
    if "AIGC_PREVIEW" in env:
        monkeypatch.setenv("AIGC_PREVIEW", env["AIGC_PREVIEW"])
    master, slave = pty.openpty()
    with os.fdopen(slave, "w") as terminal, open(os.devnull, "w") as not_a_terminal:
        assert preview.terminal_mode(terminal, env) == mode
        assert preview.terminal_mode(not_a_terminal, env) is None
    os.close(master)


def _job_with_images(settings, n: int = 4) -> None:
    done = cli(settings, "submit", "generate", "--plugin", "toy", "-p", f"n={n}", "-p", "seed=5")
    assert done.returncode == 0, done.stderr


def test_results_previews_in_a_terminal_and_prints_nothing_to_a_pipe(sqlite_settings):
    _job_with_images(sqlite_settings)
    env = env_for(sqlite_settings, TERM="xterm-256color", COLORTERM="truecolor")
    code, shown = in_terminal("results", "1", env=env)
    assert code == 0, shown
    assert shown.count("▀") >= 4 * 8 * 4  # four 8x8 images, two pixel rows per cell
    assert "preview: 4 images; files: aigc results 1 --out DIR" in shown

    piped = cli(sqlite_settings, "results", "1", env=env)
    assert piped.returncode == 2 and piped.stdout == ""
    assert piped.stderr == "error: job 1's results are images: give --out DIR to write them, or --json to list them\n"

    code, plain = in_terminal("results", "1", "--no-preview", env=env)
    assert code == 2 and "▀" not in plain and ESC + "[38;2" not in plain


def test_results_speak_kitty_and_iterm2_when_the_terminal_says_so(sqlite_settings):
    _job_with_images(sqlite_settings)
    code, kitty = in_terminal("results", "1", env=env_for(sqlite_settings, TERM="xterm-kitty"))
    assert code == 0 and f"{ESC}_Ga=T,f=100,q=2," in kitty and "▀" not in kitty
    packets = re.findall(f"{ESC}_G[^;]*;([^{ESC}]*){ESC}\\\\", kitty)
    sheet = decode_png(base64.standard_b64decode("".join(packets)))
    assert sheet.shape == (22, 22)  # the contact sheet `aigc results --out` writes as grid.png: 2 x 2 tiles

    iterm_env = env_for(sqlite_settings, TERM="xterm-256color", TERM_PROGRAM="iTerm.app")
    code, iterm = in_terminal("results", "1", env=iterm_env)
    assert code == 0 and f"{ESC}]1337;File=inline=1;" in iterm


def test_submit_out_writes_the_files_and_previews_them(sqlite_settings, tmp_path):
    out = tmp_path / "digits"
    env = env_for(sqlite_settings, TERM="xterm-256color", COLORTERM="truecolor")
    code, shown = in_terminal("submit", "generate", "--plugin", "toy", "-p", "n=6", "--out", str(out), env=env)
    assert code == 0, shown
    assert sorted(p.name for p in out.iterdir()) == [f"{i:05d}.png" for i in range(6)] + ["grid.png"]
    assert "▀" in shown and f"wrote 6 results of job 1 to {out}" in shown
    assert f"preview: 6 images; all in {out}" in shown
    assert "files: aigc results" not in shown  # already written

    again = tmp_path / "again"
    piped = cli(sqlite_settings, "submit", "generate", "--plugin", "toy", "--out", str(again), env=env)
    assert piped.returncode == 0, piped.stderr
    assert len(list(again.glob("*.png"))) == 5 and "▀" not in piped.stdout + piped.stderr
    assert ESC not in piped.stdout

    code, quiet = in_terminal("submit", "generate", "--plugin", "toy", "--no-preview", env=env)
    assert code == 0 and "▀" not in quiet and "preview:" not in quiet


def test_submit_json_never_previews(sqlite_settings):
    code, shown = in_terminal(
        "submit", "generate", "--plugin", "toy", "--json", env=env_for(sqlite_settings, TERM="xterm-kitty")
    )
    assert code == 0 and f"{ESC}_G" not in shown
    assert json.loads(shown[shown.index("{") :].replace("\r\n", "\n"))["status"] == "succeeded"


def test_text_results_are_printed_without_out(sqlite_settings):
    done = cli(sqlite_settings, "submit", "generate", "--plugin", "chatter", "--prompt", "hello", "-p", "n=2")
    assert done.returncode == 0, done.stderr
    printed = cli(sqlite_settings, "results", "1")
    assert printed.returncode == 0 and printed.stdout.split("\n")[:3] == ["hello #0", "", "hello #1"]


def test_a_training_run_previews_its_last_sample(sqlite_settings):
    assert cli(sqlite_settings, "submit", "train", "--plugin", "toy", "-p", "epochs=2").returncode == 0
    code, shown = in_terminal("results", "1", env=env_for(sqlite_settings, TERM="xterm-256color"))
    assert code == 0 and "preview: 1 image;" in shown
    assert shown.count("▀") == 4 * 2  # the last 4x4 sample: 4 cells wide, 2 lines


def test_bad_out_or_preview_settings_are_one_line_and_store_nothing(sqlite_settings, tmp_path, redis_db):
    from aigc.core.store import Store, queries

    a_file = tmp_path / "a-file"
    a_file.write_text("")
    broker = env_for(sqlite_settings, AIGC_BROKER_URL=f"redis://127.0.0.1:6379/{redis_db}")
    cases = [
        (["--out", str(a_file)], None, f"error: --out {a_file} exists and is not a folder; give a new or empty folder"),
        (["--out", str(a_file / "sub")], None, f"error: cannot write to {a_file / 'sub'}: Not a directory ({a_file})"),
        (
            ["--out", str(tmp_path / "d"), "--no-wait"],
            broker,
            "error: --out writes the results when the job ends: drop --no-wait, or use `aigc results ID --out`",
        ),
        ([], env_for(sqlite_settings, AIGC_PREVIEW="sometimes"), "error: AIGC_PREVIEW='sometimes' is not valid"),
        ([], env_for(sqlite_settings, AIGC_SERVER_URL="ftp://x"), "error: AIGC_SERVER_URL='ftp://x' is not valid"),
    ]
    for extra, env, message in cases:
        done = cli(sqlite_settings, "submit", "generate", "--plugin", "toy", *extra, env=env)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith(message) and len(done.stderr.splitlines()) == 1, done.stderr
    with Store(sqlite_settings).transaction() as session:
        assert queries.list_jobs(session, limit=10) == []
    assert not (tmp_path / "d").exists()
    written = cli(sqlite_settings, "results", "1", "--out", str(a_file))
    assert written.returncode == 2 and written.stderr.startswith(f"error: --out {a_file} exists and is not a folder")
