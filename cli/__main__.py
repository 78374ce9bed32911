"""`python -m aigc.cli` runs the `aigc` command."""

from aigc.cli.main import main

main()
