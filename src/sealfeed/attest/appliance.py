"""The appliance's attestation document: what it presents about itself (pure).

At start-up (after config-verify) the appliance asks the TDX module for a quote whose
report_data is the sealfeed binding (:func:`sealfeed.attest.binding.appliance_report_data`) and
keeps it in this document, which the exporter serves read-only (``GET /attestation``),
``sealfeed status`` summarises and ``sealfeed verify --url`` / ``--attestation`` checks. Every
claim in it (image digest, configuration hash, import key) is an *input to recompute*, never
a fact to trust: the verifier takes the image digest from the golden measurement and the
configuration hash from the configuration it verified itself, and only the quote's signed
report_data decides (ADR 0130).

Layout (JSON, ``format`` = :data:`FORMAT`)::

    attested        true | false
    reason          why not attested (null when attested)
    created_at      ISO-8601 UTC
    binding         {domain, image_sha256, image_source, config_hash, import_key (base64)}
    quote           base64 of the raw quote (attested only)
    report_data     hex of the 64 bytes asked for (attested only)
    collateral      {tee, fmspc, ca, pccs_url}: what collateral verifies the quote

Without TDX the document says so (``attested: false`` and a plain reason) and carries no
quote: nothing is served as evidence that is not evidence.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sealfeed.attest.binding import APPLIANCE_DOMAIN, IMPORT_KEY_SIZE
from sealfeed.errors import InputError

FORMAT = "sealfeed-attestation-v1"
#: the document is a few KiB (a TDX quote with its PCK chain is ~5 KiB, base64 ~7 KiB)
MAX_DOCUMENT_BYTES = 1024 * 1024
#: how ``status`` and ``/attestation`` say it when there is no TDX (the brief's wording)
NO_TDX = "no TDX"


@dataclass(frozen=True)
class CollateralRef:
    """Which collateral verifies the quote: read from the quote's PCK certificate."""

    tee: str
    fmspc: str
    ca: str
    pccs_url: str | None = None


@dataclass(frozen=True)
class AttestationDocument:
    attested: bool
    created_at: str
    reason: str | None = None
    image_sha256: str | None = None
    #: where the start-up step learned the image digest (ADR 0130)
    image_source: str | None = None
    config_hash: str | None = None
    #: raw X25519 public key operator secrets are sealed to (ADR 0131, 0134)
    import_key: bytes | None = None
    quote: bytes | None = None
    report_data: bytes | None = None
    collateral: CollateralRef | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "attested": self.attested,
            "reason": self.reason,
            "created_at": self.created_at,
            "binding": {
                "domain": APPLIANCE_DOMAIN.rstrip(b"\0").decode(),
                "image_sha256": self.image_sha256,
                "image_source": self.image_source,
                "config_hash": self.config_hash,
                "import_key": _b64(self.import_key),
            },
            "quote": _b64(self.quote),
            "report_data": self.report_data.hex() if self.report_data is not None else None,
            "collateral": None
            if self.collateral is None
            else {
                "tee": self.collateral.tee,
                "fmspc": self.collateral.fmspc,
                "ca": self.collateral.ca,
                "pccs_url": self.collateral.pccs_url,
            },
        }

    def to_bytes(self) -> bytes:
        return (json.dumps(self.to_json(), indent=2) + "\n").encode()

    def summary(self) -> str:
        """One line for ``sealfeed status``."""
        if not self.attested:
            reason = self.reason or "?"
            if reason.startswith(f"{NO_TDX}: "):
                return f"{NO_TDX}: not attested ({reason.removeprefix(f'{NO_TDX}: ')})"
            return f"not attested: {reason}"
        assert self.quote is not None
        key = f", import key {import_key_id(self.import_key)}" if self.import_key else ""
        return (
            f"attested ({len(self.quote)}-byte TDX quote, {self.created_at}): image "
            f"{self.image_sha256} ({self.image_source}), configuration {self.config_hash}{key}"
        )


def _b64(value: bytes | None) -> str | None:
    return base64.b64encode(value).decode() if value is not None else None


def import_key_id(key: bytes | None) -> str:
    """``sha256:<hex>`` of a raw import key: how operators and sealed bundles name it."""
    import hashlib

    return "sha256:" + hashlib.sha256(key or b"").hexdigest()


def _hex32(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError("must be a sha256 hex string or null", location=where)
    text = value.lower().removeprefix("sha256:")
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise InputError("must be 64 hex digits (a sha256)", location=where)
    return text


def _bytes(value: Any, where: str, *, encoding: str, size: int | None = None) -> bytes | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"must be a {encoding} string or null", location=where)
    try:
        raw = bytes.fromhex(value) if encoding == "hex" else base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        raise InputError(f"is not valid {encoding}", location=where) from None
    if size is not None and len(raw) != size:
        raise InputError(f"must be {size} bytes, got {len(raw)}", location=where)
    return raw


def parse_attestation_document(doc: Any, *, location: str) -> AttestationDocument:
    """Validate the JSON shape (precise errors naming the field; never KeyError)."""
    if not isinstance(doc, dict):
        raise InputError("an attestation document is a JSON object", location=location)
    if doc.get("format") != FORMAT:
        raise InputError(
            f"not a sealfeed attestation document (format must be {FORMAT!r})",
            location=f"{location}: format",
        )
    attested = doc.get("attested")
    if not isinstance(attested, bool):
        raise InputError("must be true or false", location=f"{location}: attested")
    created = doc.get("created_at")
    if not isinstance(created, str):
        raise InputError("must be an ISO-8601 string", location=f"{location}: created_at")
    reason = doc.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise InputError("must be a string or null", location=f"{location}: reason")
    binding = doc.get("binding")
    if not isinstance(binding, dict):
        raise InputError("must be an object", location=f"{location}: binding")
    where = f"{location}: binding"
    source = binding.get("image_source")
    if source is not None and not isinstance(source, str):
        raise InputError("must be a string or null", location=f"{where}.image_source")
    coll = doc.get("collateral")
    ref = None
    if coll is not None:
        if not isinstance(coll, dict) or not all(
            isinstance(coll.get(k), str) for k in ("tee", "fmspc", "ca")
        ):
            raise InputError(
                "must be {tee, fmspc, ca, pccs_url} strings", location=f"{location}: collateral"
            )
        pccs = coll.get("pccs_url")
        ref = CollateralRef(coll["tee"], coll["fmspc"], coll["ca"],
                            pccs if isinstance(pccs, str) else None)  # fmt: skip
    out = AttestationDocument(
        attested=attested,
        created_at=created,
        reason=reason,
        image_sha256=_hex32(binding.get("image_sha256"), f"{where}.image_sha256"),
        image_source=source,
        config_hash=_hex32(binding.get("config_hash"), f"{where}.config_hash"),
        import_key=_bytes(
            binding.get("import_key"),
            f"{where}.import_key",
            encoding="base64",
            size=IMPORT_KEY_SIZE,
        ),
        quote=_bytes(doc.get("quote"), f"{location}: quote", encoding="base64"),
        report_data=_bytes(
            doc.get("report_data"), f"{location}: report_data", encoding="hex", size=64
        ),
        collateral=ref,
    )
    if attested and out.quote is None:
        raise InputError("an attested document carries its quote", location=f"{location}: quote")
    if not attested and not reason:
        raise InputError("a document that is not attested says why", location=f"{location}: reason")
    return out


def load_attestation_bytes(data: bytes, *, location: str) -> AttestationDocument:
    if len(data) > MAX_DOCUMENT_BYTES:
        raise InputError(f"larger than {MAX_DOCUMENT_BYTES} bytes", location=location)
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not JSON: {exc}", location=location) from None
    return parse_attestation_document(doc, location=location)


def image_digest_from_workload_info(doc: Any, *, location: str) -> str | None:
    """The ``Image`` runtime hash of a Super Protocol workloadInfo (``/sp/certs/
    order_report.json`` inside the TEE, dto-js ``WorkloadInfo``; also accepted wrapped as
    ``{"workloadInfo": {...}}``, the shape ``spctl orders get-report`` saves). None when it
    names no image."""
    if isinstance(doc, Mapping) and isinstance(doc.get("workloadInfo"), Mapping):
        doc = doc["workloadInfo"]
    if not isinstance(doc, Mapping) or not isinstance(doc.get("runtimeInfo"), list):
        raise InputError("workloadInfo needs a runtimeInfo list", location=location)
    for k, ri in enumerate(doc["runtimeInfo"]):
        if isinstance(ri, Mapping) and ri.get("type") == "Image":
            h = ri.get("hash")
            where = f"{location}: runtimeInfo[{k}].hash"
            if not isinstance(h, Mapping) or h.get("algo") != "sha256":
                raise InputError("must be {algo: sha256, hash, encoding}", location=where)
            raw = _bytes(h.get("hash"), where, encoding="base64" if h.get("encoding") == "base64"
                         else "hex", size=32)  # fmt: skip
            return raw.hex() if raw is not None else None
    return None


__all__ = [
    "FORMAT",
    "MAX_DOCUMENT_BYTES",
    "NO_TDX",
    "AttestationDocument",
    "CollateralRef",
    "image_digest_from_workload_info",
    "import_key_id",
    "load_attestation_bytes",
    "parse_attestation_document",
]
