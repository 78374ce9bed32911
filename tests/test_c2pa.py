"""Optional C2PA signing: with a certificate and key configured, every image result carries a signed
manifest that `aigc verify` checks; tested with a throwaway CA and signer made here."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from typer.testing import CliRunner

from aigc.cli.main import app
from aigc.core import provenance
from aigc.core.testing import run_job


def _name(common: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, common), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "aigc tests")]
    )


def _usage(sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=sign,
        crl_sign=sign,
        encipher_only=False,
        decipher_only=False,
    )


def throwaway_signer(folder: Path) -> tuple[Path, Path]:
    """A CA and a signing certificate (ES256, email protection, 30 days): (chain PEM, key PEM)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())

    def certificate(
        subject: str, issuer: x509.Name, public: ec.EllipticCurvePublicKey, ca: bool
    ) -> x509.CertificateBuilder:
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(subject))
            .issuer_name(issuer)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(_usage(sign=ca), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        )
        return builder

    ca = certificate("aigc test CA", _name("aigc test CA"), ca_key.public_key(), True).sign(ca_key, hashes.SHA256())
    leaf = (
        certificate("aigc test signer", ca.subject, key.public_key(), False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    chain, private = folder / "chain.pem", folder / "key.pem"
    chain.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (leaf, ca)))
    pkcs8 = serialization.PrivateFormat.PKCS8
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, pkcs8, serialization.NoEncryption()))
    return chain, private


def test_results_are_signed_and_verify_checks_the_signature(tmp_path, monkeypatch):
    chain, key = throwaway_signer(tmp_path)
    monkeypatch.setenv("AIGC_C2PA_CERT", str(chain))
    monkeypatch.setenv("AIGC_C2PA_KEY", str(key))
    outcome = run_job("toy", "generate", {"n": 2, "seed": 1}, tmp_path / "store")
    assert outcome.job.status == "succeeded", outcome.job.error
    png = outcome.items[0].data
    assert b"caBX" in png and json.loads(provenance.read_itxt(png)["AIGC"])["job_id"] == outcome.job.id
    signed, tampered = tmp_path / "signed.png", tmp_path / "tampered.png"
    signed.write_bytes(png)
    # Change a byte of the label: the pixels still match, the C2PA hard binding does not.
    tampered.write_bytes(png.replace(b'"seed":1', b'"seed":2'))
    monkeypatch.setenv("AIGC_DATABASE_URL", outcome.settings.database_url)
    result = CliRunner().invoke(app, ["verify", "--json", str(signed), str(tampered)])
    verdicts = json.loads(result.output)
    assert verdicts[0]["ok"] and verdicts[0]["c2pa"] == "signed, signature valid (signer not in a trust list)"
    assert not verdicts[1]["ok"] and verdicts[1]["problems"][0].startswith("C2PA: signature invalid")
    assert result.exit_code == 1


def test_half_configured_signing_fails_the_job_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("AIGC_C2PA_CERT", str(tmp_path / "chain.pem"))
    outcome = run_job("toy", "generate", {"n": 1}, tmp_path / "store")
    assert outcome.job.status == "failed" and outcome.results == []
    assert outcome.job.error == "C2PA signing needs both AIGC_C2PA_CERT and AIGC_C2PA_KEY (PEM files)"
    chain, key = throwaway_signer(tmp_path)
    monkeypatch.setenv("AIGC_C2PA_CERT", str(key))  # a key where the certificate belongs
    monkeypatch.setenv("AIGC_C2PA_KEY", str(key))
    wrong = run_job("toy", "generate", {"n": 1}, tmp_path / "store2")
    assert wrong.job.status == "failed" and wrong.job.error.startswith("AIGC_C2PA_CERT/AIGC_C2PA_KEY cannot sign: ")
