"""One test per verification rule on the synthetic Intel-like PKI: each negative case
breaks exactly that rule of an otherwise valid quote + collateral; the positive cases
show the rule's passing side (and status/advisory propagation)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from sealfeed.attest import QuoteVerificationError, TcbStatus, verify_collateral, verify_quote
from sealfeed.attest.tcbinfo import StatusWithAdvisories, converge_platform_and_qe
from tests.fakes.intel_pki import Scenario, sgx_level, tdx_level

BASE = Scenario()
D = timedelta(days=1)
S = timedelta(seconds=1)
PCK = (3, 3, 2, 2, 4, 1, 0, 5) + (0,) * 8
pad = lambda *v: tuple(v) + (0,) * (16 - len(v))  # noqa: E731


def run(sc: Scenario, **kw):
    b = sc.build()
    return verify_quote(b.quote, b.collateral, now=b.now, trust_roots=[b.root_fingerprint], **kw)


def rejected(sc: Scenario) -> QuoteVerificationError:
    with pytest.raises(QuoteVerificationError) as ei:
        run(sc)
    return ei.value


NEGATIVE = [
    # (id, overrides, failing check, status carried by the error)
    ("pck-leaf-signed-by-other-key", {"pck_leaf_signed_by": "other"}, "pck_chain", None),
    ("pck-ca-signed-by-other-key", {"pck_ca_signed_by": "other"}, "pck_crl", None),
    ("pck-leaf-expired", {"pck_not_after": -S}, "pck_chain", None),
    ("pck-leaf-not-yet-valid", {"pck_not_before": S}, "pck_chain", None),
    ("tcb-signing-cert-by-other-key", {"tcb_signed_by": "other"}, "tcb_signing_chain", None),
    ("root-crl-signed-by-other-key", {"root_crl_signed_by": "other"}, "root_ca_crl", None),
    ("root-crl-expired", {"root_crl_next_update": -S}, "root_ca_crl_validity", None),
    (
        "root-crl-at-next-update",
        {"root_crl_next_update": timedelta(0)},
        "root_ca_crl_validity",
        None,
    ),
    ("root-crl-not-yet-valid", {"root_crl_this_update": S}, "root_ca_crl_validity", None),
    ("pck-ca-revoked-by-root-crl", {"revoke_pck_ca": True}, "pck_crl", TcbStatus.REVOKED),
    ("tcb-signing-revoked", {"revoke_tcb_signing": True}, "tcb_signing_chain", TcbStatus.REVOKED),
    ("pck-crl-signed-by-other-key", {"pck_crl_signed_by": "other"}, "pck_crl", None),
    ("pck-crl-expired", {"pck_crl_next_update": -S}, "pck_crl_validity", None),
    ("pck-revoked", {"revoke_pck": True}, "pck_chain", TcbStatus.REVOKED),
    ("tcb-info-signed-by-other-key", {"tcb_info_signed_by": "other"}, "tcb_info_signature", None),
    ("tcb-info-tampered", {"tamper_tcb_info": True}, "tcb_info_signature", None),
    ("tcb-info-issued-in-future", {"tcb_info_issue": S}, "tcb_info_validity", None),
    ("tcb-info-expired", {"tcb_info_next": -S}, "tcb_info_validity", None),
    ("tcb-info-tcb-type-1", {"tcb_info_patch": (("tcbType", 1),)}, "tcb_level", None),
    ("tcb-info-version-2-for-tdx", {"tcb_info_patch": (("version", 2),)}, "tcb_level", None),
    ("tcb-info-sgx-for-tdx", {"tcb_info_patch": (("id", "SGX"),)}, "tcb_level", None),
    ("tcb-info-other-fmspc", {"tcb_info_patch": (("fmspc", "00906ED50000"),)}, "tcb_level", None),
    ("tcb-info-other-pce-id", {"tcb_info_patch": (("pceId", "0100"),)}, "tcb_level", None),
    (
        "qe-identity-signed-by-other-key",
        {"qe_identity_signed_by": "other"},
        "qe_identity_signature",
        None,
    ),
    ("qe-identity-tampered", {"tamper_qe_identity": True}, "qe_identity_signature", None),
    ("qe-identity-issued-in-future", {"qe_identity_issue": S}, "qe_identity_validity", None),
    ("qe-identity-expired", {"qe_identity_next": -S}, "qe_identity_validity", None),
    ("qe-identity-wrong-id", {"qe_identity_patch": (("id", "QE"),)}, "qe_identity", None),
    (
        "qe-report-signed-by-other-key",
        {"qe_report_signed_by": "other"},
        "qe_report_signature",
        None,
    ),
    ("qe-report-data-not-bound", {"break_qe_report_data": True}, "qe_report_data", None),
    ("qe-mrsigner", {"qe_mr_signer": b"\x01" * 32}, "qe_identity", None),
    ("qe-isvprodid", {"qe_isv_prod_id": 1}, "qe_identity", None),
    ("qe-miscselect-masked", {"qe_misc_select": 1}, "qe_identity", None),
    (
        "qe-attributes-masked",
        {"qe_attributes": bytes.fromhex("13") + bytes(15)},
        "qe_identity",
        None,
    ),
    ("qe-isvsvn-below-all-levels", {"qe_isv_svn": 1}, "qe_identity", None),
    ("quote-signed-by-other-key", {"quote_signed_by": "other"}, "quote_signature", None),
    ("attestation-key-type-3", {"attestation_key_type": 3}, "header", None),
    ("qe-vendor-id", {"qe_vendor_id": bytes(16)}, "header", None),
    ("no-tcb-level-sgx-component", {"pck_tcb": pad(3, 3, 2, 2, 4, 1, 0, 4)}, "tcb_level", None),
    ("no-tcb-level-pcesvn", {"pck_pce_svn": 10}, "tcb_level", None),
    (
        "no-tcb-level-tdx-component",
        {"tee_tcb_svn": bytes.fromhex("06010100") + bytes(12)},
        "tcb_level",
        None,
    ),
    ("tdx-module-mrsigner", {"mr_signer_seam": b"\x01" * 48}, "tdx_module", None),
    ("tdx-module-seam-attributes", {"seam_attributes": b"\x01" + bytes(7)}, "tdx_module", None),
    (
        "tdx-module-identity-missing",
        {"tee_tcb_svn": bytes.fromhex("06020300") + bytes(12)},
        "tdx_module",
        None,
    ),
    (
        "tdx-module-isvsvn-below-levels",
        {"tee_tcb_svn": bytes.fromhex("01010300") + bytes(12)},
        "tdx_module",
        None,
    ),
    (
        "platform-level-revoked",
        {"tcb_levels": (tdx_level(PCK, 11, pad(5, 0, 3), "Revoked"),)},
        "tcb_status",
        TcbStatus.REVOKED,
    ),
    (
        "qe-level-revoked",
        {
            "qe_levels": (
                {"tcb": {"isvsvn": 1}, "tcbDate": "2024-03-13T00:00:00Z", "tcbStatus": "Revoked"},
            )
        },
        "tcb_status",
        TcbStatus.REVOKED,
    ),
]


@pytest.mark.parametrize(
    ("overrides", "check", "status"), [n[1:] for n in NEGATIVE], ids=[n[0] for n in NEGATIVE]
)
def test_breaking_one_rule_rejects(overrides: dict, check: str, status: TcbStatus | None) -> None:
    err = rejected(dataclasses.replace(BASE, **overrides))
    assert err.check == check
    assert err.status == status
    assert err.checks[-1].ok is False and all(c.ok for c in err.checks[:-1])


POSITIVE = [
    # (id, overrides, status, advisories)
    ("baseline-tdx-v4", {}, "UpToDate", ()),
    ("tdx-v5-td10-body", {"quote_version": 5, "body_type": 2}, "UpToDate", ()),
    ("tdx-v5-td15-body", {"quote_version": 5, "body_type": 3}, "UpToDate", ()),
    ("sgx-v3", {"tee": "SGX", "quote_version": 3}, "UpToDate", ()),
    ("pck-exactly-at-not-after", {"pck_not_after": timedelta(0)}, "UpToDate", ()),
    ("tcb-info-at-issue-date", {"tcb_info_issue": timedelta(0)}, "UpToDate", ()),
    ("tcb-info-at-next-update", {"tcb_info_next": timedelta(0)}, "UpToDate", ()),
    ("qe-identity-at-next-update", {"qe_identity_next": timedelta(0)}, "UpToDate", ()),
    ("pck-crl-one-second-before-next-update", {"pck_crl_next_update": S}, "UpToDate", ()),
    ("fmspc-case-insensitive", {"tcb_info_patch": (("fmspc", "b0c06f000000"),)}, "UpToDate", ()),
    (
        "lower-sgx-components-select-outofdate-level",
        {"pck_tcb": pad(2, 2, 2, 2, 3, 1, 0, 5)},
        "OutOfDate",
        ("INTEL-SA-00837",),
    ),
    (
        "lower-tdx-components-select-outofdate-level",
        {"tee_tcb_svn": bytes.fromhex("06010200") + bytes(12)},
        "OutOfDate",
        ("INTEL-SA-00837",),
    ),
    (
        # TEE_TCB_SVN[0..1] are the module SVN/version, judged by the module identity
        # (Intel QVL), not by tdxtcbcomponents[0]: 04 < 5 still matches level 1.
        "module-svn-bytes-skipped-in-level-match",
        {"tee_tcb_svn": bytes.fromhex("04010300") + bytes(12)},
        "UpToDate",
        (),
    ),
    (
        "module-isvsvn-outofdate",
        {"tee_tcb_svn": bytes.fromhex("02010300") + bytes(12)},
        "OutOfDate",
        ("INTEL-SA-00960",),
    ),
    ("qe-isvsvn-outofdate", {"qe_isv_svn": 3}, "OutOfDate", ("INTEL-SA-00615",)),
    (
        "sw-hardening-advisories-carried",
        {
            "tcb_levels": (
                tdx_level(
                    PCK, 11, pad(5, 0, 3), "SWHardeningNeeded", ("INTEL-SA-00615", "INTEL-SA-00657")
                ),
            )
        },
        "SWHardeningNeeded",
        ("INTEL-SA-00615", "INTEL-SA-00657"),
    ),
    (
        # QVL convergence: platform ConfigurationNeeded + QE OutOfDate
        "config-needed-plus-qe-outofdate",
        {
            "tcb_levels": (
                tdx_level(PCK, 11, pad(5, 0, 3), "ConfigurationNeeded", ("INTEL-SA-00828",)),
            ),
            "qe_isv_svn": 3,
        },
        "OutOfDateConfigurationNeeded",
        ("INTEL-SA-00828", "INTEL-SA-00615"),
    ),
    (
        "sgx-levels-ordered-by-svn-not-by-file-order",
        {
            "tee": "SGX",
            "quote_version": 3,
            "tcb_levels": (
                sgx_level(pad(1, 1, 1, 1, 1, 1, 0, 1), 5, "OutOfDate", ("INTEL-SA-1",)),
                sgx_level(PCK, 11, "ConfigurationNeeded", ("INTEL-SA-2",)),
            ),
        },
        "ConfigurationNeeded",
        ("INTEL-SA-2",),
    ),
]


@pytest.mark.parametrize(
    ("overrides", "status", "advisories"), [p[1:] for p in POSITIVE], ids=[p[0] for p in POSITIVE]
)
def test_rule_positive_side(overrides: dict, status: str, advisories: tuple[str, ...]) -> None:
    r = run(dataclasses.replace(BASE, **overrides))
    assert r.tcb_status.value == status
    assert r.advisory_ids == advisories
    assert all(c.ok for c in r.checks)


def test_root_pinned_by_fingerprint_other_root_rejected() -> None:
    b = BASE.build()
    other = dataclasses.replace(BASE, root_key="other_root").build()
    assert other.root_fingerprint != b.root_fingerprint
    # a whole PKI under a different (same-named) root is rejected under the real pin
    with pytest.raises(QuoteVerificationError) as ei:
        verify_quote(other.quote, other.collateral, now=b.now, trust_roots=[b.root_fingerprint])
    assert ei.value.check == "root_ca"
    # the default pin (Intel's real root) rejects the synthetic root too
    with pytest.raises(QuoteVerificationError) as ei:
        verify_quote(b.quote, b.collateral, now=b.now)
    assert ei.value.check == "root_ca"


def test_quote_chain_to_other_root_rejected_with_valid_collateral() -> None:
    good = BASE.build()
    foreign = dataclasses.replace(BASE, root_key="other_root").build()
    with pytest.raises(QuoteVerificationError) as ei:
        verify_quote(
            foreign.quote, good.collateral, now=good.now, trust_roots=[good.root_fingerprint]
        )
    assert ei.value.check == "pck_chain"


def test_verified_collateral_reuse_and_window_recheck() -> None:
    b = BASE.build()
    vc = verify_collateral(b.collateral, now=b.now, trust_roots=[b.root_fingerprint])
    fresh = verify_quote(b.quote, b.collateral, now=b.now, trust_roots=[b.root_fingerprint])
    cached = verify_quote(b.quote, vc, now=b.now, trust_roots=[b.root_fingerprint])
    assert fresh.checks == cached.checks
    with pytest.raises(QuoteVerificationError) as ei:
        verify_quote(b.quote, vc, now=b.now + 40 * D, trust_roots=[b.root_fingerprint])
    assert ei.value.check.endswith("_validity")


@pytest.mark.parametrize(
    ("platform", "qe", "expected"),
    [
        ("UpToDate", "UpToDate", "UpToDate"),
        ("UpToDate", "OutOfDate", "OutOfDate"),
        ("SWHardeningNeeded", "OutOfDate", "OutOfDate"),
        ("ConfigurationNeeded", "OutOfDate", "OutOfDateConfigurationNeeded"),
        ("ConfigurationAndSWHardeningNeeded", "OutOfDate", "OutOfDateConfigurationNeeded"),
        ("OutOfDate", "UpToDate", "OutOfDate"),
        ("ConfigurationNeeded", "UpToDate", "ConfigurationNeeded"),
        ("UpToDate", "Revoked", "Revoked"),
    ],
)
def test_qvl_status_convergence(platform: str, qe: str, expected: str) -> None:
    got = converge_platform_and_qe(
        StatusWithAdvisories(TcbStatus(platform), ("A",)),
        StatusWithAdvisories(TcbStatus(qe), ("B", "A")),
    )
    assert got.status.value == expected
    assert got.advisory_ids == ("A", "B")


def test_verified_collateral_not_reused_under_other_pins() -> None:
    b = BASE.build()
    vc = verify_collateral(b.collateral, now=b.now, trust_roots=[b.root_fingerprint, "ab" * 32])
    verify_quote(b.quote, vc, now=b.now, trust_roots=[b.root_fingerprint])
    with pytest.raises(QuoteVerificationError) as ei:
        verify_quote(b.quote, vc, now=b.now, trust_roots=["ab" * 32])
    assert ei.value.check == "root_ca"
