"""What `aigc` alone prints: the three commands a newcomer needs first, then where the rest is."""

from __future__ import annotations

from aigc.cli.render import out
from aigc.cli.table import Table, print_table

FIRST_COMMANDS = [
    ("aigc submit generate --plugin gan --out digits/", "generate 64 digits, write them to digits/, show them here"),
    ("aigc plugins", "what is installed; `aigc plugins show NAME` for its params"),
    ("aigc doctor", "check the set-up: versions, store, GPUs, broker, plugins"),
]


def welcome() -> None:
    out.print("aigc runs content-generation models (GAN, VAE, text, yours) as jobs.")
    out.print("Start here:")
    out.print()
    table = Table(["command"], note="what it does", show_header=False)
    for command, meaning in FIRST_COMMANDS:
        table.add_row(command, note=meaning)
    print_table(table)
    out.print()
    out.print("Every command: aigc --help    A command's options: aigc COMMAND --help", markup=False)
