"""Super Protocol order reports and TEE certificates: parse and verify (pure, no network).

Formats, from the public Super Protocol packages (read, not copied):

* Order report JSON, as ``spctl orders get-report --save-to`` writes it (Super-Protocol/ctl
  ``src/commands/ordersGetReport.ts``) and as ``@super-protocol/dto-js``
  ``types/tee/order-report`` defines it: ``{"certificate": "<PEM chain>", "workloadInfo":
  {"created": n, "runtimeInfo": [{"type": "Image"|"Solution"|"Data", "size": n,
  "hash": {"algo", "hash", "encoding"}, "signatureKeyHash"?, "argsHash"?}],
  "orderCapacity"?}}``.
* The leaf certificate binds the workload: extension ``1.3.6.1.3.8888.2.3``
  (sdk-js ``OID_CUSTOM_EXTENSION_ORDER_REPORT_WORKLOAD_INFO_HASH``) holds the raw bytes of
  ``calculateObjectHash(workloadInfo)`` (object-hash sha256; sdk-js
  ``OrderReportService.validateOrderReport``).
* Every non-root certificate of the chain carries a challenge (``@super-protocol/pki-common``
  constants): ``1.3.6.1.3.8888.1.1`` challenge type (``"tdx"``, ``"sev-snp"``,
  ``"certificate"``...), ``1.3.6.1.3.8888.1.1.1`` subtype, ``1.3.6.1.3.8888.1.2`` challenge id
  -- for TDX the TD measurement ("mrenclave") that the TEE loader signs. Extension values are
  the raw contents of ``extnValue`` (sdk-js ``CertificatesHelper.getExtensionValue``).
* TD measurement allow-list: Super-Protocol/sp-vm ``signatures/tdx/{latest,pre-release}/
  mrenclave-<hex>.json`` = ``{"mrenclave": hex, "signature": base64, "build", ...}``; the
  signature is RSASSA-PKCS1-v1_5/SHA-256 over the raw measurement bytes by the TEE loader's
  certificate (sdk-js ``TeeSignatureVerifier.validateSignature``: node-forge
  ``publicKey.verify(sha256(mrEnclave), signature)``).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from sealfeed.config.objecthash import object_hash
from sealfeed.errors import InputError

OID_CHALLENGE_TYPE = x509.ObjectIdentifier("1.3.6.1.3.8888.1.1")
OID_CHALLENGE_SUBTYPE = x509.ObjectIdentifier("1.3.6.1.3.8888.1.1.1")
OID_CHALLENGE_ID = x509.ObjectIdentifier("1.3.6.1.3.8888.1.2")
OID_WORKLOAD_INFO_HASH = x509.ObjectIdentifier("1.3.6.1.3.8888.2.3")
#: Intel SGX/TDX RA-TLS quote extension (pki-common ``OID_SGX_QUOTE`` and the Intel arc).
OID_QUOTE = (
    x509.ObjectIdentifier("1.2.840.113741.1337.6"),
    x509.ObjectIdentifier("0.6.9.42.840.113741.1337.6"),
)
RUNTIME_TYPES = ("Image", "Solution", "Data")


@dataclass(frozen=True)
class ChainCheck:
    """One link of a verification: name, pass/fail and why (never raises for a bad link)."""

    name: str
    ok: bool
    detail: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OrderReport:
    certificates: tuple[x509.Certificate, ...]
    workload_info: Mapping[str, Any]

    @property
    def leaf(self) -> x509.Certificate:
        return self.certificates[0]

    def runtime(self, kind: str) -> list[Mapping[str, Any]]:
        return [ri for ri in self.workload_info.get("runtimeInfo", []) if ri.get("type") == kind]


def _hash_field(value: Any, where: str) -> str:
    if not isinstance(value, dict):
        raise InputError("must be a hash object {algo, hash, encoding}", location=where)
    algo, text, enc = value.get("algo"), value.get("hash"), value.get("encoding", "hex")
    if algo != "sha256" or not isinstance(text, str):
        raise InputError(f"hash must be sha256, got algo {algo!r}", location=where)
    try:
        raw = bytes.fromhex(text) if enc == "hex" else base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raise InputError(f"hash is not valid {enc}", location=where) from None
    if len(raw) != 32:
        raise InputError(f"sha256 hash must be 32 bytes, got {len(raw)}", location=where)
    return raw.hex()


def parse_order_report(doc: Any, *, location: str = "order report") -> OrderReport:
    """Validate the order report JSON shape (dto-js ``OrderReportSchema``) and load the chain."""
    if not isinstance(doc, dict):
        raise InputError("must be a JSON object", location=location)
    pem = doc.get("certificate")
    wi = doc.get("workloadInfo")
    if not isinstance(pem, str) or "BEGIN CERTIFICATE" not in pem:
        raise InputError("certificate must be a PEM chain", location=f"{location}: certificate")
    if not isinstance(wi, dict):
        raise InputError("workloadInfo must be an object", location=f"{location}: workloadInfo")
    if not isinstance(wi.get("created"), (int, float)) or not isinstance(
        wi.get("runtimeInfo"), list
    ):
        raise InputError(
            "workloadInfo needs created (number) and runtimeInfo (list)",
            location=f"{location}: workloadInfo",
        )
    for k, ri in enumerate(wi["runtimeInfo"]):
        where = f"{location}: workloadInfo.runtimeInfo[{k}]"
        if not isinstance(ri, dict) or ri.get("type") not in RUNTIME_TYPES:
            raise InputError(f"type must be one of {', '.join(RUNTIME_TYPES)}", location=where)
        _hash_field(ri.get("hash"), f"{where}.hash")
        for opt in ("argsHash", "signatureKeyHash"):
            if opt in ri:
                _hash_field(ri[opt], f"{where}.{opt}")
    try:
        certs = tuple(x509.load_pem_x509_certificates(pem.encode("ascii", "replace")))
    except ValueError as exc:
        raise InputError(
            f"bad PEM certificate: {exc}", location=f"{location}: certificate"
        ) from None
    return OrderReport(tuple(order_leaf_first(certs)), wi)


def load_order_report(path: str | Path) -> OrderReport:
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("order report file does not exist", location=str(p)) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"order report is not JSON: {exc}", location=str(p)) from None
    return parse_order_report(doc, location=str(p))


def load_certificate(path: str | Path, flag: str) -> x509.Certificate:
    """A PEM or DER certificate file named by ``flag`` (``--sp-ca``, ``--tee-loader-cert``)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(
            f"{flag}: cannot read certificate: {exc.strerror}", location=str(p)
        ) from None
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        try:
            return x509.load_der_x509_certificate(data)
        except ValueError:
            raise InputError(f"{flag}: not a PEM/DER certificate", location=str(p)) from None


def _ski(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return None


def _aki(cert: x509.Certificate) -> bytes | None:
    try:
        ext = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    except x509.ExtensionNotFound:
        return None
    return ext.value.key_identifier


def _issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    aki, ski = _aki(child), _ski(parent)
    if aki is not None and ski is not None:
        return aki == ski
    return child.issuer == parent.subject


def order_leaf_first(certs: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    """Sort leaf -> root (sdk-js ``sortCertsFromLeafToRoot``): the leaf issues nothing."""
    pool = [c for c in certs if c.subject != c.issuer]
    if not pool:
        return list(certs)
    leaves = [c for c in pool if not any(_issued_by(o, c) for o in pool if o is not c)]
    chain = [leaves[0] if leaves else pool[0]]
    while True:
        nxt = [c for c in pool if c not in chain and _issued_by(chain[-1], c)]
        if not nxt:
            break
        chain.append(nxt[0])
    return chain + [c for c in pool if c not in chain]


def _verify_signed_by(child: x509.Certificate, parent: x509.Certificate) -> str | None:
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature) as exc:
        return f"{child.subject.rfc4514_string()} is not signed by {parent.subject.rfc4514_string()} ({exc.__class__.__name__})"
    return None


def verify_chain(report: OrderReport, ca: x509.Certificate, at: dt.datetime) -> ChainCheck:
    """Leaf -> ... -> pinned Super Protocol CA: signatures, issuers and validity at ``at``."""
    chain = [*report.certificates, ca]
    for cert in chain:
        if not (cert.not_valid_before_utc <= at <= cert.not_valid_after_utc):
            return ChainCheck(
                "sp-cert-chain",
                False,
                f"{cert.subject.rfc4514_string()} is not valid at {at.isoformat()} "
                f"({cert.not_valid_before_utc.isoformat()} .. {cert.not_valid_after_utc.isoformat()})",
            )
    for child, parent in itertools.pairwise(chain):
        problem = _verify_signed_by(child, parent)
        if problem:
            return ChainCheck("sp-cert-chain", False, problem)
    return ChainCheck(
        "sp-cert-chain",
        True,
        f"{len(report.certificates)} certificate(s) chain to {ca.subject.rfc4514_string()}",
        {"leaf": report.leaf.subject.rfc4514_string()},
    )


def extension_bytes(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> bytes | None:
    try:
        ext = cert.extensions.get_extension_for_oid(oid)
    except x509.ExtensionNotFound:
        return None
    value = ext.value
    return value.value if isinstance(value, x509.UnrecognizedExtension) else None


def challenge_of(cert: x509.Certificate) -> tuple[str | None, bytes | None]:
    ctype = extension_bytes(cert, OID_CHALLENGE_TYPE)
    return (ctype.decode("latin-1") if ctype is not None else None), extension_bytes(
        cert, OID_CHALLENGE_ID
    )


def verify_workload_binding(report: OrderReport) -> ChainCheck:
    """Leaf extension 1.3.6.1.3.8888.2.3 == object-hash(workloadInfo)."""
    in_cert = extension_bytes(report.leaf, OID_WORKLOAD_INFO_HASH)
    if in_cert is None:
        return ChainCheck("sp-workload-info", False, "leaf certificate has no workloadInfo hash")
    computed = object_hash(dict(report.workload_info))
    if in_cert.hex() != computed:
        return ChainCheck(
            "sp-workload-info",
            False,
            "workloadInfo does not match the hash in the TEE certificate "
            f"(certificate {in_cert.hex()}, report {computed})",
        )
    return ChainCheck("sp-workload-info", True, "workloadInfo is the one the TEE certificate vouches for",
                 {"workload_info_hash": computed})  # fmt: skip


def load_signature_doc(path: str | Path) -> Mapping[str, Any]:
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(
            f"not a readable signature JSON: {exc.__class__.__name__}", location=str(p)
        ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("signature"), str):
        raise InputError('signature file needs "signature" (base64)', location=str(p))
    return doc


def find_measurement_signature(signatures_dir: Path, measurement: bytes) -> Path | None:
    """Where sdk-js ``TeeSignatureVerifier.getSignature`` looks, in the same order."""
    hexid = measurement.hex()
    for rel in (f"tdx/latest/mrenclave-{hexid}.json", f"tdx/pre-release/mrenclave-{hexid}.json"):
        if (signatures_dir / rel).is_file():
            return signatures_dir / rel
    return None


def verify_measurement_signature(
    measurement: bytes, sig_doc: Mapping[str, Any], loader_cert: x509.Certificate
) -> ChainCheck:
    """The TEE loader signed this TD measurement (sp-vm allow-list entry)."""
    key = loader_cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        return ChainCheck("sp-td-measurement", False, "TEE loader certificate must hold an RSA key")
    declared = sig_doc.get("mrenclave")
    if isinstance(declared, str) and declared.lower() != measurement.hex():
        return ChainCheck(
            "sp-td-measurement", False, f"signature file is for {declared}, not {measurement.hex()}"
        )
    try:
        sig = base64.b64decode(str(sig_doc["signature"]), validate=True)
        key.verify(sig, measurement, padding.PKCS1v15(), hashes.SHA256())
    except (binascii.Error, ValueError, InvalidSignature):
        return ChainCheck("sp-td-measurement", False,
                     f"TD measurement {measurement.hex()} is not signed by the TEE loader")  # fmt: skip
    return ChainCheck(
        "sp-td-measurement",
        True,
        f"TD measurement {measurement.hex()} is on the TEE loader's signed allow-list",
        {"build": sig_doc.get("build"), "measurement": measurement.hex()},
    )


def spki_sha256(cert: x509.Certificate) -> bytes:
    """pki-common ``getPublicKeyHash``: sha256 of the SPKI DER (what report_data carries)."""
    import hashlib

    der = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).digest()


def runtime_hash(ri: Mapping[str, Any], key: str = "hash") -> str | None:
    value = ri.get(key)
    return _hash_field(value, key) if value is not None else None


__all__ = [
    "OID_CHALLENGE_ID",
    "OID_CHALLENGE_SUBTYPE",
    "OID_CHALLENGE_TYPE",
    "OID_QUOTE",
    "OID_WORKLOAD_INFO_HASH",
    "ChainCheck",
    "OrderReport",
    "challenge_of",
    "extension_bytes",
    "find_measurement_signature",
    "load_certificate",
    "load_order_report",
    "load_signature_doc",
    "order_leaf_first",
    "parse_order_report",
    "runtime_hash",
    "spki_sha256",
    "verify_chain",
    "verify_measurement_signature",
    "verify_workload_binding",
]
