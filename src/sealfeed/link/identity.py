"""This VM's attested link identity: an ephemeral Ed25519 key, a self-signed TLS
certificate for it, and one TDX quote whose report_data binds the key, the verified
configuration hash and the issue time (:func:`sealfeed.attest.binding.peer_report_data`).

Quotes are expensive on real hardware, so one is requested per key; the service rotates
the identity every ``reattest_seconds`` (that rotation *is* the re-attestation peers see).
The private key never exists on disk in clear: Python's ``ssl`` loads certificates only
from files, so the key is written PKCS#8-encrypted under a random in-memory password to a
0600 temporary file that is deleted right after loading.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import secrets
import ssl
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from sealfeed.attest.binding import peer_report_data
from sealfeed.link.admission import PeerEvidence

#: report_data -> quote (configfs-tsm in this process: :func:`sealfeed.attest.tsm.request_quote`)
QuoteSource = Callable[[bytes], bytes]
#: (SPKI DER of the identity key, issued_at) -> a quote over their peer binding: what an
#: identity needs. In the image the privileged quote helper answers it and binds the
#: configuration hash it verified itself (:class:`sealfeed.link.privsep.QuoteHelper`, ADR 0145)
PeerQuoter = Callable[[bytes, int], bytes]


def direct_quoter(request_quote: QuoteSource, config_hash: str) -> PeerQuoter:
    """A :data:`PeerQuoter` that computes the binding here and quotes with this process's
    rights (local mode, tests)."""

    def quote(spki: bytes, issued_at: int) -> bytes:
        return request_quote(
            peer_report_data(hashlib.sha256(spki).digest(), config_hash, issued_at)
        )

    return quote


def client_context() -> ssl.SSLContext:
    """TLS 1.3 client that accepts any certificate: the peer is authenticated by its quote,
    which binds the certificate's key (checked right after the handshake)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _server_context(cert_pem: bytes, key: Ed25519PrivateKey) -> ssl.SSLContext:
    password = secrets.token_bytes(32)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password),
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    fd, path = tempfile.mkstemp(prefix="sealfeed-link-", suffix=".pem")  # 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(cert_pem + key_pem)
        ctx.load_cert_chain(path, password=password)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    return ctx


@dataclass(frozen=True)
class Identity:
    vm: str
    config_hash: str
    issued_at: int
    key: Ed25519PrivateKey = field(repr=False)
    spki: bytes
    cert_der: bytes
    quote: bytes
    server_context: ssl.SSLContext = field(repr=False, compare=False)

    @property
    def evidence(self) -> PeerEvidence:
        return PeerEvidence(self.vm, self.config_hash, self.quote, self.spki)

    @property
    def session_id(self) -> bytes:
        """SHA-256 of our certificate: the session id of connections we serve with it."""
        return hashlib.sha256(self.cert_der).digest()

    def sign(self, message: bytes) -> bytes:
        return self.key.sign(message)


def create_identity(
    vm: str,
    config_hash: str,
    *,
    now: float,
    lifetime_seconds: float,
    quoter: PeerQuoter,
) -> Identity:
    """A fresh key, its certificate and a quote over its binding (blocking: the quote).
    ``quoter`` binds the key to ``config_hash``: :func:`direct_quoter`, or the quote helper
    (which binds the hash it verified; the link checked at start that it is this one)."""
    key = Ed25519PrivateKey.generate()
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    issued_at = int(now)
    start = dt.datetime.fromtimestamp(issued_at - 60, dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"sealfeed-link {vm}")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(seconds=lifetime_seconds + 120))
        .sign(key, None)
    )
    quote = quoter(spki, issued_at)
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    return Identity(
        vm=vm,
        config_hash=config_hash,
        issued_at=issued_at,
        key=key,
        spki=spki,
        cert_der=cert.public_bytes(serialization.Encoding.DER),
        quote=quote,
        server_context=_server_context(cert_pem, key),
    )


__all__ = [
    "Identity",
    "PeerQuoter",
    "QuoteSource",
    "client_context",
    "create_identity",
    "direct_quoter",
]
