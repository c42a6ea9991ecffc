"""The appliance's own quote, obtained once at start-up (the IO edge of
:mod:`sealfeed.attest.appliance`).

``sealfeed attest startup`` runs as a root oneshot after ``config-verify`` and
``secrets-import`` (s6/graph.py): it re-verifies the configuration (one read: the object-hash
of exactly the verified bytes, ADR 0090), learns the image digest from the platform or the
operator (ADR 0130), reads the secrets-import public key, asks configfs-tsm for a quote over
:func:`~sealfeed.attest.binding.appliance_report_data` and writes the attestation document
atomically. Without TDX, or without an image digest, it writes a document that says so and
carries no quote; the appliance still runs (its evidence is then "not attested").
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from sealfeed.attest.appliance import (
    NO_TDX,
    AttestationDocument,
    CollateralRef,
    image_digest_from_workload_info,
)
from sealfeed.attest.binding import IMPORT_KEY_SIZE, appliance_report_data
from sealfeed.errors import ExternalError, InputError

#: Super Protocol mounts the order's workloadInfo here inside the TEE (Super-Protocol/solutions
#: reads ``/sp/certs/order_report.json`` as dto-js ``WorkloadInfo``; the docs list /sp/certs
#: as "order certificate, private key, and workloadInfo")
SP_ORDER_REPORT = Path("/sp/certs/order_report.json")
#: the operator-given image digest (docker run -e / the order's environment), ADR 0130
ENV_IMAGE_SHA256 = "SEALFEED_IMAGE_SHA256"


@dataclass(frozen=True)
class ImageDigest:
    sha256: str | None
    source: str
    #: a second source that disagreed (reported, never used)
    conflict: str | None = None


def _norm(value: str, where: str) -> str:
    text = value.strip().lower().removeprefix("sha256:")
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise InputError("must be a sha256 hex digest (64 hex digits)", location=where)
    return text


def find_image_digest(
    *, operator: str | None, order_report: str | os.PathLike[str] | None
) -> ImageDigest:
    """Where the running image learns its own digest (it cannot contain it): the platform's
    workloadInfo ``Image`` hash first (Super Protocol's loader measured what it runs), else
    the operator's value. A wrong digest cannot help anyone: the quote would bind it and
    ``sealfeed verify`` recomputes the binding from the golden measurement (ADR 0130)."""
    op = _norm(operator, ENV_IMAGE_SHA256) if operator else None
    if order_report is not None:
        path = Path(order_report)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raw = None
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", location=str(path)) from None
        if raw is not None:
            try:
                doc = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise InputError(f"not JSON: {exc}", location=str(path)) from None
            platform = image_digest_from_workload_info(doc, location=str(path))
            if platform is not None:
                conflict = op if op is not None and op != platform else None
                return ImageDigest(platform, f"workloadInfo {path}", conflict)
    if op is not None:
        return ImageDigest(op, f"operator ({ENV_IMAGE_SHA256})")
    where = f"no workloadInfo at {order_report}" if order_report else "no workloadInfo"
    return ImageDigest(None, f"image digest unknown: {where} and no {ENV_IMAGE_SHA256}")


def read_import_key(path: str | os.PathLike[str] | None) -> bytes | None:
    """The raw X25519 public key (base64 text) the secrets-import step publishes; None when
    there is none (the appliance then binds 32 zero bytes: nothing can be sealed to it)."""
    if path is None:
        return None
    p = Path(path)
    try:
        text = p.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the import key: {exc}", location=str(p)) from None
    try:
        raw = base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raise InputError("import key is not base64", location=str(p)) from None
    if len(raw) != IMPORT_KEY_SIZE:
        raise InputError(f"import key must be {IMPORT_KEY_SIZE} bytes", location=str(p))
    return raw


def attest_at_startup(
    *,
    config_hash: str,
    image: ImageDigest,
    import_key: bytes | None,
    tsm_root: str | os.PathLike[str],
    now: datetime | None = None,
    pccs_url: str | None = None,
) -> AttestationDocument:
    """The document for this boot: a quote when there is TDX and an image digest, else a
    document saying plainly why there is none."""
    from sealfeed.attest.tsm import request_quote

    created = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    base = AttestationDocument(
        attested=False,
        created_at=created,
        image_sha256=image.sha256,
        image_source=image.source if image.sha256 else None,
        config_hash=config_hash,
        import_key=import_key,
    )
    root = Path(tsm_root)
    if not root.is_dir():
        return replace(
            base,
            reason=f"{NO_TDX}: configfs-tsm is not available at {root} (not a TDX guest, or "
            "configfs not mounted)",
        )
    if image.sha256 is None:
        return replace(base, reason=image.source)
    report_data = appliance_report_data(image.sha256, config_hash, import_key)
    try:
        quote = request_quote(report_data, root=root)
    except ExternalError as exc:
        return replace(base, reason=f"quote failed: {exc}")
    return replace(
        base,
        attested=True,
        quote=quote,
        report_data=report_data,
        collateral=_collateral_ref(quote, pccs_url),
    )


def _collateral_ref(quote: bytes, pccs_url: str | None) -> CollateralRef | None:
    from sealfeed.attest.collateral import collateral_key
    from sealfeed.attest.quote import parse_quote

    try:
        tee, fmspc, ca = collateral_key(parse_quote(quote))
    except InputError:
        return None
    return CollateralRef(tee=tee, fmspc=fmspc.hex().upper(), ca=ca, pccs_url=pccs_url)


def write_document(path: str | os.PathLike[str], doc: AttestationDocument) -> Path:
    """Atomically, world-readable: everything in it is public (quote, hashes, a public key)."""
    from sealfeed.fsutil import atomic_write

    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write(target, doc.to_bytes(), mode=0o644)
    except OSError as exc:
        raise InputError(
            f"cannot write the attestation document: {exc.strerror}", location=str(target)
        ) from None


__all__ = [
    "ENV_IMAGE_SHA256",
    "SP_ORDER_REPORT",
    "ImageDigest",
    "attest_at_startup",
    "find_image_digest",
    "read_import_key",
    "write_document",
]
