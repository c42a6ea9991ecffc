"""Policy: safe defaults, one test per field (positive and negative), all mismatches
collected into one PolicyError, and the shipped attest/policy*.json files."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest

from sealfeed.attest import Policy, PolicyError, evaluate_policy, load_policy, verify_quote
from sealfeed.attest.policy import sp_measurement
from sealfeed.errors import InputError
from tests.fakes.intel_pki import TD_ATTRIBUTES_DEBUG, Scenario, tdx_level

ROOT = Path(__file__).resolve().parents[2]
pad = lambda *v: tuple(v) + (0,) * (16 - len(v))  # noqa: E731
PCK = pad(3, 3, 2, 2, 4, 1, 0, 5)


def report(**kw):
    b = dataclasses.replace(Scenario(), **kw).build()
    return verify_quote(b.quote, b.collateral, now=b.now, trust_roots=[b.root_fingerprint])


BASE = report()
TD = BASE.quote.td_report


def mismatch_fields(rep, policy: Policy) -> list[str]:
    try:
        evaluate_policy(rep, policy)
    except PolicyError as exc:
        return [f for f, _, _ in exc.mismatches]
    return []


def test_default_policy_accepts_clean_uptodate_quote() -> None:
    assert mismatch_fields(BASE, Policy()) == []


@pytest.mark.parametrize(
    ("scenario", "field"),
    [
        ({"td_attributes": TD_ATTRIBUTES_DEBUG}, "td_attributes.DEBUG"),
        ({"td_attributes": bytes.fromhex("0200001000000000")}, "td_attributes.reserved"),
        ({"td_attributes": bytes(8)}, "td_attributes.SEPT_VE_DISABLE"),
        ({"quote_version": 5, "body_type": 3, "mr_service_td": b"\x01" * 48}, "mr_service_td"),
        (
            {"tee": "SGX", "quote_version": 3, "sgx_attributes": bytes.fromhex("07") + bytes(15)},
            "attributes.DEBUG",
        ),
        ({"qe_isv_svn": 3}, "tcb_status"),  # OutOfDate is not accepted by default
    ],
    ids=["td-debug", "td-reserved", "sept-ve", "service-td", "sgx-debug", "outofdate"],
)
def test_safe_defaults_reject(scenario: dict, field: str) -> None:
    assert mismatch_fields(report(**scenario), Policy()) == [field]


def test_dangerous_flags_relax_exactly_their_rule() -> None:
    assert (
        mismatch_fields(
            report(td_attributes=TD_ATTRIBUTES_DEBUG), Policy(dangerous_allow_debug=True)
        )
        == []
    )
    svc = report(quote_version=5, body_type=3, mr_service_td=b"\x01" * 48)
    assert mismatch_fields(svc, Policy(dangerous_allow_service_td=True)) == []
    assert (
        mismatch_fields(report(td_attributes=bytes(8)), Policy(dangerous_allow_sept_ve=True)) == []
    )


def test_status_opt_in_with_listed_advisories() -> None:
    rep = report(
        tcb_levels=(
            tdx_level(PCK, 11, pad(5, 0, 3), "SWHardeningNeeded", ("INTEL-SA-1", "INTEL-SA-2")),
        )
    )
    allow = frozenset({"UpToDate", "SWHardeningNeeded"})
    assert mismatch_fields(rep, Policy()) == ["tcb_status"]
    assert mismatch_fields(rep, Policy(accepted_tcb_statuses=allow)) == []
    listed = Policy(accepted_tcb_statuses=allow, allowed_advisory_ids=frozenset({"INTEL-SA-1"}))
    assert mismatch_fields(rep, listed) == ["advisory_ids"]
    both = dataclasses.replace(listed, allowed_advisory_ids=frozenset({"INTEL-SA-1", "INTEL-SA-2"}))
    assert mismatch_fields(rep, both) == []


OTHER48 = frozenset({b"\x07" * 48})


@pytest.mark.parametrize(
    ("good", "bad", "field"),
    [
        (Policy(mr_td=frozenset({TD.mr_td, b"\x07" * 48})), Policy(mr_td=OTHER48), "mr_td"),
        (Policy(rtmr0=frozenset({TD.rtmr0})), Policy(rtmr0=OTHER48), "rtmr0"),
        (Policy(rtmr1=frozenset({TD.rtmr1})), Policy(rtmr1=OTHER48), "rtmr1"),
        (Policy(rtmr2=frozenset({TD.rtmr2})), Policy(rtmr2=OTHER48), "rtmr2"),
        (Policy(rtmr3=frozenset({TD.rtmr3})), Policy(rtmr3=OTHER48), "rtmr3"),
        (Policy(mr_seam=frozenset({TD.mr_seam})), Policy(mr_seam=OTHER48), "mr_seam"),
        (Policy(td_attributes=TD.td_attributes), Policy(td_attributes=bytes(8)), "td_attributes"),
        (Policy(xfam=frozenset({TD.xfam})), Policy(xfam=frozenset({bytes(8)})), "xfam"),
        (Policy(mr_config_id=bytes(48)), Policy(mr_config_id=b"\x01" * 48), "mr_config_id"),
        (Policy(mr_owner=bytes(48)), Policy(mr_owner=b"\x01" * 48), "mr_owner"),
        (
            Policy(mr_owner_config=bytes(48)),
            Policy(mr_owner_config=b"\x01" * 48),
            "mr_owner_config",
        ),
        (Policy(report_data=TD.report_data), Policy(report_data=bytes(64)), "report_data"),
        (
            Policy(
                sp_measurement=frozenset({sp_measurement(TD.td_attributes, TD.mr_td, TD.rtmrs)})
            ),
            Policy(sp_measurement=frozenset({bytes(32)})),
            "sp_measurement",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_each_field_positive_and_negative(good: Policy, bad: Policy, field: str) -> None:
    assert mismatch_fields(BASE, good) == []
    assert mismatch_fields(BASE, bad) == [field]


def test_sp_measurement_definition() -> None:
    want = hashlib.sha256(
        TD.td_attributes + TD.mr_td + TD.rtmr0 + TD.rtmr1 + TD.rtmr2 + TD.rtmr3
    ).digest()
    assert sp_measurement(TD.td_attributes, TD.mr_td, TD.rtmrs) == want


def test_report_data_sha256_binding() -> None:
    user = b"super protocol order 42"
    rep = report(report_data=hashlib.sha256(user).digest() + b"\xaa" * 32)
    assert mismatch_fields(rep, Policy(report_data_sha256_of=user)) == []
    assert mismatch_fields(rep, Policy(report_data_sha256_of=b"other")) == ["report_data[0:32]"]


def test_all_mismatches_reported_together() -> None:
    p = Policy(mr_td=OTHER48, rtmr1=OTHER48, report_data=bytes(64))
    with pytest.raises(PolicyError) as ei:
        evaluate_policy(report(td_attributes=TD_ATTRIBUTES_DEBUG), p)
    fields = [f for f, _, _ in ei.value.mismatches]
    assert fields == ["td_attributes.DEBUG", "mr_td", "rtmr1", "report_data"]
    got = dict((f, g) for f, g, _ in ei.value.mismatches)
    assert got["mr_td"] == TD.mr_td.hex()
    assert ei.value.exit_code == 1


def test_sgx_fields() -> None:
    rep = report(tee="SGX", quote_version=3, isv_svn=3, isv_prod_id=7)
    ok = Policy(
        mr_enclave=frozenset({b"\x33" * 32}),
        mr_signer=frozenset({b"\x81" * 32}),
        isv_prod_id=7,
        min_isv_svn=3,
    )
    assert mismatch_fields(rep, ok) == []
    bad = Policy(
        mr_enclave=frozenset({bytes(32)}),
        mr_signer=frozenset({bytes(32)}),
        isv_prod_id=1,
        min_isv_svn=4,
    )
    assert mismatch_fields(rep, bad) == ["mr_enclave", "mr_signer", "isv_prod_id", "isv_svn"]


@pytest.mark.parametrize(
    "doc",
    [
        {"mr_td": ["00" * 47]},
        {"mr_td": "zz"},
        {"accepted_tcb_statuses": ["Fine"]},
        {"accepted_tcb_statuses": ["Revoked"]},
        {"unknown_field": 1},
        {"dangerous_allow_debug": "yes"},
        {"isv_prod_id": -1},
    ],
)
def test_from_dict_validates_up_front(doc: dict) -> None:
    with pytest.raises(InputError):
        Policy.from_dict(doc)


def test_shipped_policy_files_load_and_match_schema() -> None:
    files = sorted((ROOT / "attest").glob("policy*.json"))
    schema = json.loads((ROOT / "attest" / "policy.schema.json").read_text())
    names = {f.name for f in dataclasses.fields(Policy)}
    assert set(schema["properties"]) - {"$schema", "comment"} == names
    loaded = {f.name: load_policy(f) for f in files if f.name != "policy.schema.json"}
    assert loaded["policy.json"] == Policy()
    assert loaded["policy-measurements.example.json"].mr_td is not None
    assert (
        Policy.from_dict(loaded["policy-measurements.example.json"].to_dict())
        == loaded["policy-measurements.example.json"]
    )
