"""Write the sha256 digest file beside each model shipped in this tree (or, with --check, verify them).

aigc checks a bundled model against its digest on every load and refuses a damaged one.
`aigc models export` writes the digest of what it exports; run this after replacing a shipped file
by other means (the gan classifier's own training script, a copy by hand):

    python scripts/bundled_digests.py            # (re)write every digest
    python scripts/bundled_digests.py --check    # exit 1 naming any file whose digest does not match
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aigc.core.artifacts import digest_file, sha256_of, shipped_sha256, write_digest

ROOT = Path(__file__).resolve().parent.parent
# Every model file or folder shipped as package data: the built-in plugins' bundled models, the gan
# plugin's FID classifier, and the example plugin's bundled model. tests/test_bundled_digests.py
# checks this list misses none.
SHIPPED = (
    "plugins/gan/default.safetensors",
    "plugins/gan/classifier.safetensors",
    "plugins/vae/default.safetensors",
    "plugins/text/default",
    "plugins/diffusion/default",
    "examples/aigc-markov/aigc_markov/default.safetensors",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify the digests instead of writing them")
    args = parser.parse_args()
    wrong = []
    for name in SHIPPED:
        path = ROOT / name
        if args.check:
            if shipped_sha256(path) != sha256_of(path):
                wrong.append(name)
        else:
            print(f"{write_digest(path)}  {digest_file(path).relative_to(ROOT)}")
    if wrong:
        print(
            f"digest missing or not matching: {', '.join(wrong)}; run python scripts/bundled_digests.py",
            file=sys.stderr,
        )
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
