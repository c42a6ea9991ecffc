"""The link without root (ADR 0145): a forked quote helper keeps root and signs only the link's
peer bindings of the configuration it verified itself; the link runs as an ordinary account.

The protocol is checked on a real socketpair against the real helper loop; the privilege
separation with a real fork, a real setuid and the fake TDX kernel over FUSE, whose report
directory is root's exactly as configfs-tsm's is (the kernel checks the modes)."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealfeed.attest.binding import appliance_report_data, peer_report_data
from sealfeed.errors import ExternalError, InputError, VerificationError
from sealfeed.link.privsep import (
    MAX_SKEW_SECONDS,
    QUOTE_BURST,
    HelperSettings,
    QuoteHelper,
    Refused,
    parse_request,
    serve_quote_helper,
)

HASH = "5e" * 32
NOW = 1_750_000_000


def _spki(key: object | None = None) -> bytes:
    k = key or Ed25519PrivateKey.generate()
    return k.public_key().public_bytes(  # type: ignore[attr-defined,no-any-return]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _line(doc: object) -> bytes:
    return json.dumps(doc).encode() + b"\n"


# --- the request, as data ---------------------------------------------------------------------


def test_a_request_is_a_key_and_a_time() -> None:
    spki = _spki()
    assert parse_request(_line({"spki": spki.hex(), "issued_at": NOW}), now=NOW + 5) == (spki, NOW)


@pytest.mark.parametrize(
    "doc",
    [
        {"report_data": "00" * 64},  # the one thing a compromised link would want
        {"spki": "00", "issued_at": NOW, "report_data": "00" * 64},
        {"spki": "00"},
        [NOW],
        {"spki": 5, "issued_at": NOW},
        {"spki": "00", "issued_at": "now"},
        {"spki": "00", "issued_at": -1},
        {"spki": "00", "issued_at": True},
    ],
)
def test_anything_else_is_a_fatal_refusal(doc: object) -> None:
    with pytest.raises(Refused) as err:
        parse_request(_line(doc), now=NOW)
    assert err.value.fatal


def test_not_json_is_fatal() -> None:
    with pytest.raises(Refused, match="not JSON") as err:
        parse_request(b"\xff{\n", now=NOW)
    assert err.value.fatal


@pytest.mark.parametrize(
    ("spki", "issued_at", "why"),
    [
        ("zz", NOW, "not a DER SubjectPublicKeyInfo"),
        (_spki().hex()[:-2], NOW, "not a DER SubjectPublicKeyInfo"),
        (_spki(generate_private_key(SECP256R1())).hex(), NOW, "not an Ed25519 key"),
        (_spki().hex(), NOW - MAX_SKEW_SECONDS - 1, "more than 30 s from the helper's clock"),
        (_spki().hex(), NOW + 3600, "more than 30 s"),  # no quotes kept for later
    ],
)
def test_a_foreign_key_or_a_time_far_off_is_refused(spki: str, issued_at: int, why: str) -> None:
    with pytest.raises(Refused, match=why) as err:
        parse_request(_line({"spki": spki, "issued_at": issued_at}), now=NOW)
    assert not err.value.fatal


# --- the helper loop on a real socketpair ---------------------------------------------------


class Tdx:
    """configfs-tsm as the helper sees it: report_data in, a 'quote' that is that data out."""

    def __init__(self) -> None:
        self.signed: list[bytes] = []

    def __call__(self, report_data: bytes, root: str) -> bytes:
        assert root == "/tsm"
        self.signed.append(report_data)
        return b"QUOTE" + report_data


@pytest.fixture
def helper() -> Iterator[Callable[..., tuple[QuoteHelper, Tdx, threading.Thread]]]:
    made: list[tuple[QuoteHelper, threading.Thread]] = []

    def start(
        prepare: Callable[[], HelperSettings] | None = None, reattest: float = 300
    ) -> tuple[QuoteHelper, Tdx, threading.Thread]:
        a, b = socket.socketpair()
        tdx = Tdx()
        settings = HelperSettings(config_hash=HASH, tsm_root="/tsm", reattest_seconds=reattest)
        t = threading.Thread(
            target=serve_quote_helper,
            args=(b, prepare or (lambda: settings)),
            kwargs={"request_quote": tdx},
            daemon=True,
        )
        t.start()
        client = QuoteHelper(a, pid=-1)
        made.append((client, t))
        return client, tdx, t

    yield start
    for client, t in made:
        client._stream.close()  # EOF: the helper loop returns
        client.sock.close()
        t.join(5)


def test_the_helper_binds_the_hash_it_verified(helper: Callable[..., tuple]) -> None:  # type: ignore[type-arg]
    client, tdx, _t = helper()
    client.expect(HASH)
    spki, now = _spki(), int(time.time())
    quote = client(spki, now)
    want = peer_report_data(hashlib.sha256(spki).digest(), HASH, now)
    assert tdx.signed == [want] and quote == b"QUOTE" + want


def test_a_request_for_raw_report_data_ends_the_helper(helper: Callable[..., tuple]) -> None:  # type: ignore[type-arg]
    client, tdx, t = helper()
    client.expect(HASH)
    appliance = appliance_report_data("ab" * 32, HASH)  # what a compromised link would want
    client._stream.write(_line({"report_data": appliance.hex()}))
    answer = json.loads(client._stream.readline())
    assert answer["fatal"] is True and "computes report_data itself" in answer["error"]
    t.join(5)
    assert not t.is_alive() and tdx.signed == []  # nothing was signed, the helper is gone
    with pytest.raises(ExternalError, match="the quote helper is gone"):
        client(_spki(), int(time.time()))


def test_quotes_are_rate_bounded(helper: Callable[..., tuple]) -> None:  # type: ignore[type-arg]
    client, tdx, _t = helper(reattest=3600)  # one quote per 900 s after the burst
    for _ in range(QUOTE_BURST):
        client(_spki(), int(time.time()))
    with pytest.raises(ExternalError, match="rate limit: at most 3 quotes in a row"):
        client(_spki(), int(time.time()))
    assert len(tdx.signed) == QUOTE_BURST
    # a refusal is an answer, not the end: the helper still serves (once the bucket refills)
    with pytest.raises(ExternalError, match="rate limit"):
        client(_spki(), int(time.time()))


def test_a_skewed_time_is_refused_and_the_helper_stays(helper: Callable[..., tuple]) -> None:  # type: ignore[type-arg]
    client, tdx, _t = helper()
    with pytest.raises(ExternalError, match="from the helper's clock"):
        client(_spki(), int(time.time()) - 3600)
    assert client(_spki(), int(time.time())).startswith(b"QUOTE")
    assert len(tdx.signed) == 1


@pytest.mark.parametrize(
    ("error", "raised"),
    [
        (InputError("no such VM", location="--vm"), InputError),
        (VerificationError("signature does not verify"), VerificationError),
        (ExternalError("configfs-tsm is not available"), ExternalError),
    ],
)
def test_the_helpers_own_verification_failure_is_the_links(
    helper: Callable[..., tuple],  # type: ignore[type-arg]
    error: Exception,
    raised: type[Exception],
) -> None:
    def prepare() -> HelperSettings:
        raise error

    client, _tdx, _t = helper(prepare)
    with pytest.raises(raised, match=f"quote helper: .*{error.args[0]}"):
        client.expect(HASH)


def test_a_helper_that_verified_another_configuration_stops_the_link(
    helper: Callable[..., tuple],  # type: ignore[type-arg]
) -> None:
    client, _tdx, _t = helper()
    with pytest.raises(VerificationError, match="the configuration changed while the link"):
        client.expect("77" * 32)


# --- real fork, real setuid, the fake TDX kernel --------------------------------------------

SCRIPT = """
import hashlib, json, os, sys, time
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sealfeed.attest.tsm import request_quote
from sealfeed.errors import ExternalError
from sealfeed.link.privsep import HelperSettings, drop_privileges, start_quote_helper

tsm, config_hash = sys.argv[1], sys.argv[2]
helper = start_quote_helper(lambda: HelperSettings(config_hash, tsm, 300))
drop_privileges("nobody")
out = {"uid": os.getuid(), "helper_uid": None}
for line in open(f"/proc/{helper.pid}/status"):
    if line.startswith("Uid:"):
        out["helper_uid"] = int(line.split()[1])
try:
    os.setuid(0)
    out["regained"] = True
except PermissionError:
    out["regained"] = False
try:  # the dropped link itself cannot ask configfs-tsm for anything
    request_quote(b"\\x42" * 64, root=tsm)
    out["direct"] = "quoted"
except ExternalError as exc:
    out["direct"] = str(exc)
helper.expect(config_hash)
spki = Ed25519PrivateKey.generate().public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
now = int(time.time())
out["spki"], out["issued_at"] = spki.hex(), now
out["quote"] = helper(spki, now).hex()
helper._stream.write(json.dumps({"report_data": "42" * 64}).encode() + b"\\n")
out["raw"] = json.loads(helper._stream.readline())
try:
    helper(spki, now)
    out["after"] = "quoted"
except ExternalError as exc:
    out["after"] = str(exc)
helper.close()
print(json.dumps(out))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
def test_the_dropped_link_gets_quotes_only_through_the_helper() -> None:
    from sealfeed.attest.quote import parse_quote
    from tests.fakes.tsm import FakeTdxHost, fuse_available

    why = fuse_available()
    if why:
        pytest.skip(f"SKIPPED LOUDLY: the fake TDX kernel needs FUSE: {why}")
    base = Path(tempfile.mkdtemp(prefix="sealfeed-tsm-"))
    base.chmod(0o755)  # reachable by `nobody`: only configfs' own modes stand in its way
    tsm = FakeTdxHost().mount(base / "tsm")
    try:
        proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tsm.root), HASH],
                              capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    finally:
        tsm.stop()
        (base / "tsm").rmdir()
        base.rmdir()
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["uid"] == 65534 and out["regained"] is False
    assert out["helper_uid"] == 0  # the helper, alone, kept root
    assert "cannot create a report entry: Permission denied" in out["direct"]
    spki = bytes.fromhex(out["spki"])
    want = peer_report_data(hashlib.sha256(spki).digest(), HASH, out["issued_at"])
    td = parse_quote(bytes.fromhex(out["quote"])).td_report
    assert td is not None and td.report_data == want
    assert out["raw"]["fatal"] is True and "computes report_data itself" in out["raw"]["error"]
    assert "the quote helper is gone" in out["after"]
    # exactly one quote was ever made, and it is the peer binding
    assert tsm.report_data == [want]
