"""The wire format: frames, limits, bodies, proofs -- malformed input is ``protocol``."""

from __future__ import annotations

import asyncio
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from sealfeed.link import protocol as P
from sealfeed.link.admission import PeerEvidence, PeerRefused, Reason

EV = PeerEvidence("vm-a", "ab" * 32, b"quote-bytes", b"spki-bytes")


def spki_of(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def reason(fn: object, *args: object) -> Reason:
    with pytest.raises(PeerRefused) as err:
        fn(*args)  # type: ignore[operator]
    return err.value.reason


def test_frames_round_trip() -> None:
    async def go() -> list[tuple[int, bytes]]:
        r = asyncio.StreamReader()
        r.feed_data(P.frame(P.DATA, b"x" * 70000) + P.frame(P.EOF) + P.close("debug", "why"))
        r.feed_eof()
        return [await P.read_frame(r) for _ in range(3)]

    (k1, d1), (k2, d2), (k3, d3) = asyncio.run(go())
    assert (k1, len(d1), k2, d2, k3) == (P.DATA, 70000, P.EOF, b"", P.CLOSE)
    assert P.parse_close(d3) == ("debug", "why")


@pytest.mark.parametrize(
    "header",
    [struct.pack(">BI", 99, 0), struct.pack(">BI", P.SERVER_HELLO, P.MAX_CONTROL + 1),
     struct.pack(">BI", P.DATA, P.MAX_DATA + 1)],
    ids=["unknown-kind", "huge-control", "huge-data"],
)  # fmt: skip
def test_headers_are_bounded(header: bytes) -> None:
    assert reason(P.parse_header, header) is Reason.PROTOCOL


def test_hello_round_trips() -> None:
    nonce = b"n" * 32
    kind, payload = P.parse_header(P.server_hello(EV, nonce)[:5])[0], P.server_hello(EV, nonce)[5:]
    assert kind == P.SERVER_HELLO
    sh = P.parse_server_hello(payload)
    assert sh.evidence == EV and sh.nonce == nonce
    key = Ed25519PrivateKey.generate()
    body = P.client_hello_body(EV, "node-1-p2p")
    msg = P.proof_message(P.CLIENT_PROOF_DOMAIN, b"s" * 32, nonce, body)
    ch = P.parse_client_hello(P.signed(P.CLIENT_HELLO, body, key.sign(msg))[5:])
    assert ch.target == "node-1-p2p" and ch.evidence == EV
    P.verify_proof(spki_of(key), ch.signature, msg)


def test_proofs_are_bound_to_session_and_nonce() -> None:
    key = Ed25519PrivateKey.generate()
    body = P.client_hello_body(EV, "")
    sig = key.sign(P.proof_message(P.CLIENT_PROOF_DOMAIN, b"s" * 32, b"n" * 32, body))
    for session, nonce, domain in (
        (b"t" * 32, b"n" * 32, P.CLIENT_PROOF_DOMAIN),  # relayed into another TLS session
        (b"s" * 32, b"m" * 32, P.CLIENT_PROOF_DOMAIN),  # replayed against another nonce
        (b"s" * 32, b"n" * 32, P.REATTEST_PROOF_DOMAIN),  # used as another message
    ):
        msg = P.proof_message(domain, session, nonce, body)
        assert reason(P.verify_proof, spki_of(key), sig, msg) is Reason.PROOF
    other = Ed25519PrivateKey.generate()
    msg = P.proof_message(P.CLIENT_PROOF_DOMAIN, b"s" * 32, b"n" * 32, body)
    assert reason(P.verify_proof, spki_of(other), sig, msg) is Reason.PROOF
    ec = (
        generate_private_key(SECP256R1())
        .public_key()
        .public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    )
    assert reason(P.verify_proof, ec, sig, msg) is Reason.PROTOCOL
    assert reason(P.verify_proof, b"junk", sig, msg) is Reason.PROTOCOL


@pytest.mark.parametrize(
    "payload",
    [b"not json", b"[]", b'{"v":2}', b'{"v":1,"vm":"","config_hash":"x"}',
     b'{"v":1,"vm":"a","config_hash":"' + b"ab" * 32 + b'","quote":"!!","spki":"", "nonce":"AA=="}',
     P.encode_json({**P.evidence_fields(EV), "nonce": "AAAA"})],
    ids=["not-json", "not-object", "version", "vm", "base64", "short-nonce"],
)  # fmt: skip
def test_malformed_server_hellos(payload: bytes) -> None:
    assert reason(P.parse_server_hello, payload) is Reason.PROTOCOL


def test_malformed_signed_messages() -> None:
    assert reason(P.parse_client_hello, b"\x00") is Reason.PROTOCOL
    assert reason(P.parse_client_hello, struct.pack(">I", 10) + b"short") is Reason.PROTOCOL
    body = P.encode_json({**P.evidence_fields(EV), "target": 5})
    assert reason(P.parse_client_hello, struct.pack(">I", len(body)) + body + b"s" * 64) is (
        Reason.PROTOCOL
    )
    assert reason(P.parse_reattest_request, P.encode_json({"nonce": "AAAA"})) is Reason.PROTOCOL


def test_verdicts() -> None:
    assert P.parse_verdict(P.verdict(True)[5:]) == (True, "", "")
    assert P.parse_verdict(P.verdict(False, "debug", "x" * 1000)[5:]) == (False, "debug", "x" * 300)


def test_expect() -> None:
    P.expect(P.CLOSE, P.VERDICT)  # a CLOSE is decoded by the caller
    assert reason(P.expect, P.DATA, P.VERDICT) is Reason.PROTOCOL
    assert reason(P.certificate_spki, b"not a certificate") is Reason.PROTOCOL
