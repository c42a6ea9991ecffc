"""The link wire format inside the TLS 1.3 channel (docs/link.md "Protocol").

Every message is a frame ``kind u8 || length u32 big-endian || payload``. The handshake,
right after TLS (the server's certificate carries its ephemeral identity key)::

    server -> client  SERVER_HELLO   JSON {v, vm, config_hash, quote, spki, nonce}
    client -> server  CLIENT_HELLO   signed JSON {v, vm, config_hash, quote, spki, target}
    server -> client  VERDICT        JSON {ok, reason?, detail?}

then DATA / EOF frames both ways, and at any time REATTEST_REQUEST {nonce} answered by a
signed REATTEST_PROOF carrying the sender's *current* identity (keys rotate), and CLOSE
{reason, detail}. A signed message is ``u32 body length || body || Ed25519 signature``
over :func:`proof_message`: a domain label, the session id (SHA-256 of the server's TLS
certificate, so a proof cannot be relayed into another TLS session), the verifier's fresh
nonce and SHA-256 of the body.

Bytes travel as base64 in the JSON bodies. Everything here is pure except
:func:`read_frame`, which reads one frame from an asyncio stream.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import struct
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_der_public_key,
)

from sealfeed.link.admission import PeerEvidence, PeerRefused, Reason

VERSION = 1

SERVER_HELLO = 1
CLIENT_HELLO = 2
VERDICT = 3
DATA = 4
EOF = 5
REATTEST_REQUEST = 6
REATTEST_PROOF = 7
CLOSE = 8
KINDS = {
    SERVER_HELLO: "SERVER_HELLO",
    CLIENT_HELLO: "CLIENT_HELLO",
    VERDICT: "VERDICT",
    DATA: "DATA",
    EOF: "EOF",
    REATTEST_REQUEST: "REATTEST_REQUEST",
    REATTEST_PROOF: "REATTEST_PROOF",
    CLOSE: "CLOSE",
}

_HEADER = struct.Struct(">BI")
HEADER_SIZE = _HEADER.size
#: handshake and control messages carry a quote (~5-10 KiB as base64): 64 KiB is plenty
MAX_CONTROL = 64 * 1024
#: one DATA frame's payload (senders fill header + payload to exactly 256 KiB)
MAX_DATA = 256 * 1024
NONCE_SIZE = 32

CLIENT_PROOF_DOMAIN = b"sealfeed-link-client-v1\x00"
REATTEST_PROOF_DOMAIN = b"sealfeed-link-reattest-v1\x00"


def frame(kind: int, payload: bytes = b"") -> bytes:
    return _HEADER.pack(kind, len(payload)) + payload


def parse_header(header: bytes) -> tuple[int, int]:
    kind, length = _HEADER.unpack(header)
    if kind not in KINDS:
        raise PeerRefused(Reason.PROTOCOL, f"unknown frame kind {kind}")
    limit = MAX_DATA if kind == DATA else MAX_CONTROL
    if length > limit:
        raise PeerRefused(Reason.PROTOCOL, f"{KINDS[kind]} frame of {length} bytes (limit {limit})")
    return kind, length


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One frame; ``IncompleteReadError`` when the stream ends (clean close between
    frames has ``partial == b''``)."""
    kind, length = parse_header(await reader.readexactly(HEADER_SIZE))
    payload = await reader.readexactly(length) if length else b""
    return kind, payload


def expect(kind: int, want: int) -> None:
    if kind == CLOSE:
        return  # the caller decodes the peer's reason
    if kind != want:
        raise PeerRefused(Reason.PROTOCOL, f"expected {KINDS[want]}, got {KINDS[kind]}")


# --- JSON bodies --------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: Any, name: str) -> bytes:
    if not isinstance(value, str):
        raise PeerRefused(Reason.PROTOCOL, f"{name} must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise PeerRefused(Reason.PROTOCOL, f"{name} is not base64") from None


def encode_json(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


def decode_json(payload: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise PeerRefused(Reason.PROTOCOL, f"{what} is not JSON") from None
    if not isinstance(doc, dict):
        raise PeerRefused(Reason.PROTOCOL, f"{what} is not a JSON object")
    return doc


def evidence_fields(ev: PeerEvidence) -> dict[str, Any]:
    return {
        "v": VERSION,
        "vm": ev.vm,
        "config_hash": ev.config_hash,
        "quote": _b64(ev.quote),
        "spki": _b64(ev.spki),
    }


def parse_evidence(doc: dict[str, Any], what: str) -> PeerEvidence:
    if doc.get("v") != VERSION:
        raise PeerRefused(
            Reason.PROTOCOL, f"{what}: protocol version {doc.get('v')!r}, we speak {VERSION}"
        )
    vm, ch = doc.get("vm"), doc.get("config_hash")
    if not isinstance(vm, str) or not vm or len(vm) > 63:
        raise PeerRefused(Reason.PROTOCOL, f"{what}: vm must be a short string")
    if not isinstance(ch, str) or len(ch) != 64:
        raise PeerRefused(Reason.PROTOCOL, f"{what}: config_hash must be 64 hex digits")
    return PeerEvidence(vm, ch, _unb64(doc.get("quote"), "quote"), _unb64(doc.get("spki"), "spki"))


@dataclass(frozen=True)
class ServerHello:
    evidence: PeerEvidence
    nonce: bytes


def server_hello(ev: PeerEvidence, nonce: bytes) -> bytes:
    return frame(SERVER_HELLO, encode_json({**evidence_fields(ev), "nonce": _b64(nonce)}))


def parse_server_hello(payload: bytes) -> ServerHello:
    doc = decode_json(payload, "SERVER_HELLO")
    nonce = _unb64(doc.get("nonce"), "nonce")
    if len(nonce) != NONCE_SIZE:
        raise PeerRefused(Reason.PROTOCOL, f"nonce must be {NONCE_SIZE} bytes")
    return ServerHello(parse_evidence(doc, "SERVER_HELLO"), nonce)


# --- signed messages ------------------------------------------------------------------------


def proof_message(domain: bytes, session_id: bytes, nonce: bytes, body: bytes) -> bytes:
    """What an identity key signs: domain || session id || nonce || SHA-256(body)."""
    return domain + session_id + nonce + hashlib.sha256(body).digest()


def signed(kind: int, body: bytes, signature: bytes) -> bytes:
    return frame(kind, struct.pack(">I", len(body)) + body + signature)


def split_signed(payload: bytes, what: str) -> tuple[bytes, bytes]:
    if len(payload) < 4:
        raise PeerRefused(Reason.PROTOCOL, f"{what} is truncated")
    (n,) = struct.unpack_from(">I", payload)
    body, sig = payload[4 : 4 + n], payload[4 + n :]
    if len(body) != n or len(sig) != 64:
        raise PeerRefused(Reason.PROTOCOL, f"{what}: bad body/signature lengths")
    return body, sig


def verify_proof(spki: bytes, signature: bytes, message: bytes) -> None:
    """The identity key (Ed25519, DER SPKI) signed ``message`` -- else ``proof``."""
    try:
        key = load_der_public_key(spki)
    except (ValueError, TypeError):
        raise PeerRefused(Reason.PROTOCOL, "spki is not a DER public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise PeerRefused(Reason.PROTOCOL, "identity keys are Ed25519")
    try:
        key.verify(signature, message)
    except InvalidSignature:
        raise PeerRefused(
            Reason.PROOF, "the identity key's signature over this session does not verify"
        ) from None


@dataclass(frozen=True)
class ClientHello:
    evidence: PeerEvidence
    target: str
    body: bytes
    signature: bytes


def client_hello_body(ev: PeerEvidence, target: str) -> bytes:
    return encode_json({**evidence_fields(ev), "target": target})


def parse_client_hello(payload: bytes) -> ClientHello:
    body, sig = split_signed(payload, "CLIENT_HELLO")
    doc = decode_json(body, "CLIENT_HELLO")
    target = doc.get("target")
    if not isinstance(target, str) or len(target) > 63:
        raise PeerRefused(Reason.PROTOCOL, "CLIENT_HELLO: target must be a short string")
    return ClientHello(parse_evidence(doc, "CLIENT_HELLO"), target, body, sig)


def parse_reattest_proof(payload: bytes) -> tuple[PeerEvidence, bytes, bytes]:
    body, sig = split_signed(payload, "REATTEST_PROOF")
    return parse_evidence(decode_json(body, "REATTEST_PROOF"), "REATTEST_PROOF"), body, sig


def verdict(ok: bool, reason: str = "", detail: str = "") -> bytes:
    doc: dict[str, Any] = {"ok": ok}
    if not ok:
        doc.update(reason=reason, detail=detail[:300])
    return frame(VERDICT, encode_json(doc))


def close(reason: str, detail: str) -> bytes:
    return frame(CLOSE, encode_json({"reason": reason, "detail": detail[:300]}))


def parse_close(payload: bytes) -> tuple[str, str]:
    doc = decode_json(payload, "CLOSE")
    return str(doc.get("reason", "?"))[:40], str(doc.get("detail", ""))[:300]


def parse_verdict(payload: bytes) -> tuple[bool, str, str]:
    doc = decode_json(payload, "VERDICT")
    if doc.get("ok") is True:
        return True, "", ""
    return False, str(doc.get("reason", "?"))[:40], str(doc.get("detail", ""))[:300]


def reattest_request(nonce: bytes) -> bytes:
    return frame(REATTEST_REQUEST, encode_json({"nonce": _b64(nonce)}))


def parse_reattest_request(payload: bytes) -> bytes:
    nonce = _unb64(decode_json(payload, "REATTEST_REQUEST").get("nonce"), "nonce")
    if len(nonce) != NONCE_SIZE:
        raise PeerRefused(Reason.PROTOCOL, f"nonce must be {NONCE_SIZE} bytes")
    return nonce


def certificate_spki(cert_der: bytes) -> bytes:
    """DER SubjectPublicKeyInfo of a DER certificate (``protocol`` if unreadable)."""
    try:
        cert = x509.load_der_x509_certificate(cert_der)
        return cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    except (ValueError, TypeError):
        raise PeerRefused(Reason.PROTOCOL, "the peer's TLS certificate is unreadable") from None


def session_id(server_cert_der: bytes) -> bytes:
    return hashlib.sha256(server_cert_der).digest()


__all__ = [
    "CLIENT_HELLO",
    "CLIENT_PROOF_DOMAIN",
    "CLOSE",
    "DATA",
    "EOF",
    "HEADER_SIZE",
    "KINDS",
    "MAX_CONTROL",
    "MAX_DATA",
    "NONCE_SIZE",
    "REATTEST_PROOF",
    "REATTEST_PROOF_DOMAIN",
    "REATTEST_REQUEST",
    "SERVER_HELLO",
    "VERDICT",
    "VERSION",
    "ClientHello",
    "ServerHello",
    "certificate_spki",
    "client_hello_body",
    "close",
    "evidence_fields",
    "expect",
    "frame",
    "parse_client_hello",
    "parse_close",
    "parse_evidence",
    "parse_header",
    "parse_reattest_proof",
    "parse_reattest_request",
    "parse_server_hello",
    "parse_verdict",
    "proof_message",
    "read_frame",
    "reattest_request",
    "server_hello",
    "session_id",
    "signed",
    "verdict",
    "verify_proof",
]
