"""Builds Super Protocol-shaped evidence for tests: TEE certificate chain, order report,
TD measurement allow-list entry. No invented fields -- each comes from a public source:

* order report JSON ``{"certificate", "workloadInfo": {"created", "runtimeInfo": [{"type",
  "size", "hash", "argsHash"?}]}}``: @super-protocol/dto-js ``types/tee/order-report``
  (OrderReportSchema, RuntimeInfoSchema, RiiTypeSchema Solution/Data/Image) and
  Super-Protocol/ctl ``src/commands/ordersGetReport.ts`` (what --save-to writes);
* ``hash`` objects ``{algo: "sha256", hash: <hex>, encoding: "hex"}``: dto-js ``HashSchema``;
* leaf extension 1.3.6.1.3.8888.2.3 = raw object-hash(workloadInfo): sdk-js ``constants``
  ``OID_CUSTOM_EXTENSION_ORDER_REPORT_WORKLOAD_INFO_HASH`` + ``OrderReportService``;
* challenge extensions 1.3.6.1.3.8888.1.1 (type ``"tdx"``) and 1.3.6.1.3.8888.1.2 (id = TD
  measurement): @super-protocol/pki-common ``constants``/``types`` (ChallengeType.TDX);
* TEE key: secp256k1 (pki-common ``generateEcKeyPair``); report_data = sha256(SPKI DER)
  (pki-common ``getPublicKeyHash``);
* allow-list entry ``{"mrenclave", "signature", "build", "description", "creationDate"}``,
  RSASSA-PKCS1-v1_5/SHA-256 over the measurement bytes: Super-Protocol/sp-vm
  ``signatures/tdx/latest/*.json`` + sdk-js ``TeeSignatureVerifier``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from sealfeed.config.objecthash import object_hash

OID_CHALLENGE_TYPE = x509.ObjectIdentifier("1.3.6.1.3.8888.1.1")
OID_CHALLENGE_ID = x509.ObjectIdentifier("1.3.6.1.3.8888.1.2")
OID_WORKLOAD_INFO_HASH = x509.ObjectIdentifier("1.3.6.1.3.8888.2.3")
NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "SuperProtocol"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])  # fmt: skip


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _cert(
    subject: str,
    key: Any,
    issuer: str,
    issuer_key: Any,
    *,
    ca: bool,
    extensions: dict[x509.ObjectIdentifier, bytes] | None = None,
    not_after: dt.datetime | None = None,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=30))
        .not_valid_after(not_after or NOW + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    for oid, value in (extensions or {}).items():
        builder = builder.add_extension(x509.UnrecognizedExtension(oid, value), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@dataclass
class SpWorld:
    """A Super Protocol PKI + TEE loader, able to issue order reports for a workload."""

    measurement: bytes = field(default_factory=lambda: bytes.fromhex("ab" * 32))
    ca_key: rsa.RSAPrivateKey = field(default_factory=_rsa)
    loader_key: rsa.RSAPrivateKey = field(default_factory=_rsa)
    tee_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256K1())
    )

    def __post_init__(self) -> None:
        self.ca = _cert("SuperProtocol TEE Root CA", self.ca_key, "SuperProtocol TEE Root CA",
                        self.ca_key, ca=True)  # fmt: skip
        self.loader_cert = _cert("SuperProtocol", self.loader_key, "SuperProtocol",
                                 self.loader_key, ca=False)  # fmt: skip
        self.sub_key = _rsa()

    def signature_doc(self, measurement: bytes | None = None, key: Any = None) -> dict[str, Any]:
        m = self.measurement if measurement is None else measurement
        sig = (key or self.loader_key).sign(m, padding.PKCS1v15(), hashes.SHA256())
        return {"mrenclave": m.hex(), "signature": base64.b64encode(sig).decode(),
                "build": "build-test", "description": "test", "creationDate": "2026-11-01T00:00:00.000Z"}  # fmt: skip

    def write_signatures(
        self, root: Path, measurement: bytes | None = None, key: Any = None
    ) -> Path:
        m = self.measurement if measurement is None else measurement
        d = root / "tdx" / "latest"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"mrenclave-{m.hex()}.json").write_text(json.dumps(self.signature_doc(m, key)))
        return root

    def order_report(
        self,
        image_sha256: str,
        config_hash: str,
        *,
        image_size: int = 1000,
        challenge_type: bytes = b"tdx",
        sub_challenge_type: bytes | None = None,
        workload_override: dict[str, Any] | None = None,
        issuer_key: Any = None,
        not_after: dt.datetime | None = None,
    ) -> dict[str, Any]:
        workload = {
            "created": 1764000000000,
            "runtimeInfo": [
                {
                    "type": "Image",
                    "size": image_size,
                    "hash": {"algo": "sha256", "hash": image_sha256, "encoding": "hex"},
                    "argsHash": {"algo": "sha256", "hash": config_hash, "encoding": "hex"},
                }
            ],
        }
        challenge = {OID_CHALLENGE_TYPE: challenge_type, OID_CHALLENGE_ID: self.measurement}
        sub_challenge = {**challenge, OID_CHALLENGE_TYPE: sub_challenge_type or challenge_type}
        sub = _cert("SuperProtocol TEE SubRoot", self.sub_key, "SuperProtocol TEE Root CA",
                    issuer_key or self.ca_key, ca=True, extensions=sub_challenge)  # fmt: skip
        leaf = _cert(
            "tee-order", self.tee_key, "SuperProtocol TEE SubRoot", self.sub_key, ca=False,
            extensions={**challenge, OID_WORKLOAD_INFO_HASH: bytes.fromhex(object_hash(workload))},
            not_after=not_after,
        )  # fmt: skip
        if workload_override is not None:
            workload = workload_override
        return {"certificate": pem(leaf) + pem(sub), "workloadInfo": workload}
