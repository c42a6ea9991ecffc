"""Admission of a peer's evidence: every refusal has its reason code."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from datetime import datetime

import pytest

from sealfeed.attest import Policy, verify_collateral
from sealfeed.attest.binding import peer_report_data
from sealfeed.link.admission import (
    Admission,
    PeerEvidence,
    PeerRefused,
    Reason,
    admit,
    parse_peer_quote,
    verify_peer_quote,
)
from sealfeed.link.measurements import parse_measurements
from sealfeed.link.plan import LinkPolicy
from tests.fakes.intel_pki import Scenario
from tests.fakes.tsm import FakeTdxHost, TdKnobs
from tests.link.conftest import CONFIG_HASH, OTHER_CONFIG_HASH, allow_list

MAX_AGE = 660.0


def spki() -> bytes:
    return b"\x30\x2a" + os.urandom(42)  # opaque to admission: only its digest is bound


def make(
    host: FakeTdxHost,
    td: TdKnobs | None = None,
    *,
    bound_spki: bytes | None = None,
    bound_config: str = CONFIG_HASH,
    claimed_config: str | None = None,
    age: float = 10.0,
    presented_spki: bytes | None = None,
) -> PeerEvidence:
    key = bound_spki or spki()
    issued = int(host.now.timestamp() + 3600 - age)
    rd = peer_report_data(hashlib.sha256(key).digest(), bound_config, issued)
    return PeerEvidence(
        "vm-b", claimed_config or bound_config, host.quote(rd, td), presented_spki or key
    )


def run(
    host: FakeTdxHost,
    ev: PeerEvidence,
    policy: LinkPolicy | None = None,
    *,
    collateral_revoked: tuple[int, ...] = (),
    at: float | None = None,
) -> Admission:
    now = at if at is not None else host.now.timestamp() + 3600
    vc = verify_collateral(
        host.collateral(revoke_platforms=collateral_revoked),
        now=host.now.timestamp(),
        trust_roots=[host.root_fingerprint],
    )
    quote = parse_peer_quote(ev.quote)
    report = verify_peer_quote(quote, vc, now=now, trust_roots=(host.root_fingerprint,))
    return admit(
        ev,
        report,
        policy=policy or LinkPolicy(parse_measurements(allow_list())),
        config_hash=CONFIG_HASH,
        max_age=MAX_AGE,
        collateral_valid_until=vc.valid_until,
        now=now,
    )


def refused(host: FakeTdxHost, ev: PeerEvidence, **kw: object) -> PeerRefused:
    with pytest.raises(PeerRefused) as err:
        run(host, ev, **kw)  # type: ignore[arg-type]
    assert err.value.detail and "\n" not in err.value.detail
    return err.value


def test_honest_peer_is_admitted(host: FakeTdxHost) -> None:
    ev = make(host)
    adm = run(host, ev)
    assert adm.vm == "vm-b" and adm.measurement_id == "sealfeed-0"
    assert adm.tcb_status == "UpToDate" and adm.fmspc == "B0C06F000000"
    assert adm.spki_sha256 == ev.spki_sha256 and adm.quote_sha256 == ev.quote_sha256
    assert adm.valid_until == adm.issued_at + MAX_AGE  # collateral lasts longer


def test_replayed_quote_with_another_key(host: FakeTdxHost) -> None:
    ev = make(host, presented_spki=spki())
    r = refused(host, ev)
    assert r.reason is Reason.BINDING and "another key" in r.detail


def test_report_data_that_is_no_peer_binding(host: FakeTdxHost) -> None:
    ev = PeerEvidence("vm-b", CONFIG_HASH, host.quote(b"\x01" * 64), spki())
    assert refused(host, ev).reason is Reason.BINDING


def test_other_configuration(host: FakeTdxHost) -> None:
    r = refused(host, make(host, bound_config=OTHER_CONFIG_HASH))
    assert r.reason is Reason.CONFIG_HASH and "cdcdcdcd" in r.detail


def test_claiming_our_configuration_does_not_help(host: FakeTdxHost) -> None:
    ev = make(host, bound_config=OTHER_CONFIG_HASH, claimed_config=CONFIG_HASH)
    assert refused(host, ev).reason is Reason.BINDING


@pytest.mark.parametrize("age", [MAX_AGE + 1, -120.0], ids=["too-old", "from-the-future"])
def test_stale_identity(host: FakeTdxHost, age: float) -> None:
    assert refused(host, make(host, age=age)).reason is Reason.STALE


def test_debug_td(host: FakeTdxHost) -> None:
    ev = make(host, TdKnobs(debug=True))
    r = refused(host, ev)
    assert r.reason is Reason.DEBUG and "DEBUG" in r.detail
    relaxed = LinkPolicy(parse_measurements(allow_list()), Policy(dangerous_allow_debug=True))
    assert run(host, ev, relaxed).measurement_id == "sealfeed-0"


def test_out_of_date_tcb(host: FakeTdxHost) -> None:
    ev = make(host, TdKnobs(tcb="OutOfDate"))
    r = refused(host, ev)
    assert r.reason is Reason.TCB_STATUS and "OutOfDate" in r.detail
    allowed = LinkPolicy(
        parse_measurements(allow_list()),
        Policy(accepted_tcb_statuses=frozenset({"UpToDate", "OutOfDate"})),
    )
    assert run(host, ev, allowed).tcb_status == "OutOfDate"
    advisories = dataclasses.replace(
        allowed, attest=dataclasses.replace(allowed.attest, allowed_advisory_ids=frozenset())
    )
    assert refused(host, ev, policy=advisories).reason is Reason.TCB_STATUS


def test_other_attest_policy_rules(host: FakeTdxHost) -> None:
    policy = LinkPolicy(parse_measurements(allow_list()), Policy(mr_seam=frozenset({bytes(48)})))
    assert refused(host, make(host), policy=policy).reason is Reason.POLICY


@pytest.mark.parametrize(
    ("td", "register"),
    [
        (TdKnobs(mr_td=b"\x92" * 48), "MRTD"),
        (TdKnobs(rtmrs=(b"\x44" * 48, b"\x00" * 47 + b"\x01", b"\xee" * 48, bytes(48))), "RTMR2"),
    ],
    ids=["other-mrtd", "other-rtmr2"],
)
def test_other_image(host: FakeTdxHost, td: TdKnobs, register: str) -> None:
    r = refused(host, make(host, td))
    assert r.reason is Reason.MEASUREMENTS and f"differs in {register}" in r.detail


def test_revoked_platform(host: FakeTdxHost) -> None:
    ev = make(host, TdKnobs(platform=2))
    assert run(host, ev).tcb_status == "UpToDate"
    r = refused(host, ev, collateral_revoked=(2,))
    assert r.reason is Reason.REVOKED
    # another platform of the same machine is unaffected
    assert run(host, make(host), collateral_revoked=(2,)).tcb_status == "UpToDate"


def test_expired_collateral(host: FakeTdxHost) -> None:
    later = host.now.timestamp() + 40 * 86400
    assert refused(host, make(host), at=later).reason is Reason.COLLATERAL


def test_forged_and_malformed_quotes(host: FakeTdxHost) -> None:
    ev = make(host)
    forged = bytearray(ev.quote)
    forged[700] ^= 1  # inside the signature data
    assert refused(host, dataclasses.replace(ev, quote=bytes(forged))).reason is Reason.QUOTE
    with pytest.raises(PeerRefused) as err:
        parse_peer_quote(b"\x04\x00garbage")
    assert err.value.reason is Reason.QUOTE
    sgx = Scenario(tee="SGX", quote_version=3).build().quote
    with pytest.raises(PeerRefused, match="not a TDX quote"):
        parse_peer_quote(sgx)


def test_admission_json(host: FakeTdxHost) -> None:
    doc = run(host, make(host)).to_json()
    assert doc["tcb_status"] == "UpToDate" and len(doc["key_sha256"]) == 64
    assert isinstance(datetime.fromtimestamp(doc["valid_until"]), datetime)
