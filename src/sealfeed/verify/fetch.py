"""The network edge of ``sealfeed verify --url``: GET the appliance's attestation document.

Only ``http``/``https``; the body is capped (:data:`MAX_DOCUMENT_BYTES`) and parsed strictly.
What comes back is evidence to check, never a verdict: the chain recomputes every binding.
The exporter answers 503 with a plain reason when the appliance has no attestation (no TDX);
that reason becomes a failed ``evidence`` link (exit 1), an unreachable appliance exit 3.
"""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.parse
import urllib.request

from sealfeed.attest.appliance import MAX_DOCUMENT_BYTES, load_attestation_bytes
from sealfeed.errors import ExternalError, InputError
from sealfeed.verify.evidence import evidence_from_document
from sealfeed.verify.model import Evidence

#: the exporter's route (exporter/server.py)
ATTESTATION_PATH = "/attestation"


def attestation_url(url: str) -> str:
    """``http://HOST:PORT`` (the route is added) or the full ``.../attestation`` URL."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError("must be an http(s)://HOST:PORT URL", location="--url")
    path = parts.path.rstrip("/")
    if not path.endswith(ATTESTATION_PATH):
        path += ATTESTATION_PATH
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def _read(resp: object) -> bytes:
    data: bytes = resp.read(MAX_DOCUMENT_BYTES + 1)  # type: ignore[attr-defined]
    if len(data) > MAX_DOCUMENT_BYTES:
        raise InputError(f"the document is larger than {MAX_DOCUMENT_BYTES} bytes")
    return data


def fetch_evidence(url: str, *, timeout: float = 15.0) -> Evidence:
    target = attestation_url(url)
    # attestation_url admitted http(s) only
    req = urllib.request.Request(target, headers={"Accept": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 -- http(s) only
            data = _read(resp)
    except urllib.error.HTTPError as err:
        body = b""
        with contextlib.suppress(InputError, OSError):
            body = _read(err)
        if err.code in (404, 503):
            return Evidence(source=target, unattested=_reason(body, err.code))
        raise ExternalError(f"the appliance answered HTTP {err.code}", location=target) from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ExternalError(f"cannot fetch the attestation document: {reason}",
                            location=target) from None  # fmt: skip
    return evidence_from_document(load_attestation_bytes(data, location=target), target)


def _reason(body: bytes, code: int) -> str:
    """The appliance's plain reason (a JSON document's ``reason``, or the text body)."""
    try:
        doc = json.loads(body.decode("utf-8"))
        if isinstance(doc, dict) and isinstance(doc.get("reason"), str):
            return str(doc["reason"])
    except (UnicodeDecodeError, json.JSONDecodeError):
        pass
    text = body.decode("utf-8", "replace").strip()
    return text[:500] if text else f"HTTP {code} without a reason"


__all__ = ["ATTESTATION_PATH", "attestation_url", "fetch_evidence"]
