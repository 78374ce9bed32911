"""Optional C2PA content credentials: a signed manifest in each labelled PNG (`aigc[c2pa]`, c2pa-python).

Signed when AIGC_C2PA_CERT and AIGC_C2PA_KEY are set. The manifest says the image was created by
aigc with IPTC's `trainedAlgorithmicMedia` source type and carries the AIGC label as an assertion; its
hard binding covers every other byte of the file, the label chunks included. A C2PA manifest holds a
unique id and the signing time: signed files are not byte-reproducible, their pixels and labels are.
"""

from __future__ import annotations

import functools
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aigc.core.errors import InvalidSetting, first_line

ASSERTION = "org.aigc.provenance"


@dataclass(frozen=True)
class SigningKey:
    cert: Path
    key: Path
    alg: str


def configured() -> SigningKey | None:
    """The certificate and key to sign with, or None when C2PA signing is not configured."""
    from aigc.core.config import environment

    env = environment()
    if env.c2pa_cert is None and env.c2pa_key is None:
        return None
    if env.c2pa_cert is None or env.c2pa_key is None:
        raise InvalidSetting("C2PA signing needs both AIGC_C2PA_CERT and AIGC_C2PA_KEY (PEM files)")
    return SigningKey(env.c2pa_cert, env.c2pa_key, env.c2pa_alg)


@functools.lru_cache(maxsize=4)
def _signer(key: SigningKey) -> Any:
    try:
        import c2pa
    except ImportError:
        raise InvalidSetting(
            "AIGC_C2PA_CERT is set but c2pa-python is not installed: pip install 'aigc[c2pa]'"
        ) from None
    try:
        info = c2pa.C2paSignerInfo(
            alg=key.alg.encode(), sign_cert=key.cert.read_bytes(), private_key=key.key.read_bytes(), ta_url=None
        )
        return c2pa.Signer.from_info(info)
    except (OSError, c2pa.C2paError) as exc:
        raise InvalidSetting(f"AIGC_C2PA_CERT/AIGC_C2PA_KEY cannot sign: {first_line(exc)}") from None


def sign_png(png: bytes, label: Mapping[str, Any], key: SigningKey) -> bytes:
    """The PNG with a C2PA manifest signed by `key`, asserting how it was made."""
    import c2pa

    from aigc.core.provenance import SOURCE_TYPE

    manifest = {
        "claim_generator_info": [{"name": "aigc"}],
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": SOURCE_TYPE}]},
            },
            {"label": ASSERTION, "data": dict(label)},
        ],
    }
    signed = io.BytesIO()
    builder = c2pa.Builder(json.dumps(manifest))
    try:
        builder.sign(_signer(key), "image/png", io.BytesIO(png), signed)
    except c2pa.C2paError as exc:  # a certificate or key it refuses: the same for every result
        raise InvalidSetting(f"AIGC_C2PA_CERT/AIGC_C2PA_KEY cannot sign: {first_line(exc)}") from None
    return signed.getvalue()


def check(png: bytes) -> tuple[str, bool]:
    """(what the file's C2PA manifest says, whether it passes), for `aigc verify`."""
    try:
        import c2pa
    except ImportError:
        return "manifest present, not checked (pip install 'aigc[c2pa]')", True
    try:
        reader = c2pa.Reader("image/png", io.BytesIO(png))
        state = reader.get_validation_state()
    except c2pa.C2paError as exc:
        return f"manifest unreadable ({first_line(exc)})", False
    if state == "Trusted":
        return "signed, signature valid, signer trusted", True
    if state == "Valid":
        return "signed, signature valid (signer not in a trust list)", True
    return f"signature {state.lower() if state else 'not valid'}", False
