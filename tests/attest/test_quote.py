"""Parser: real samples field-for-field (README section 5), byte-exact round trip, and
bounds-checked errors for truncated / inflated / mutated quotes."""

from __future__ import annotations

import struct

import pytest

from sealfeed.attest import QuoteParseError, parse_quote
from sealfeed.attest.quote import EnclaveReport, TdReport10, TdReport15
from sealfeed.errors import InputError
from tests.attest.conftest import Sample

GOLDEN = {
    # sample: (version, tee, body class, size, fields)
    "tdx_quote": (
        4,
        "TDX",
        TdReport10,
        4936,
        {
            "tee_tcb_svn": "06010300000000000000000000000000",
            "mr_td": "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7",
            "rtmr0": "44c0197b39157fdd7a4dcc44767f9d6b0bb3977c7a8e347b8492f827fe9d9e5c48aca29b220b80b6a540cf994b9bc9c0",
            "rtmr3": "00" * 48,
            "td_attributes": "0000001000000000",
            "xfam": "e702060000000000",
            "report_data": "9a9d48e7f6799642d3d1b34e1e5e1742d4bb02dd6ddd551862c1211d35c304f9eca3efdbb481601c163cf52493d6e44aed55d51ec39b7e518fadb92c2b523f20",
        },
    ),
    "tdx_quote_outdated": (
        5,
        "TDX",
        TdReport15,
        5006,
        {
            "tee_tcb_svn": "07010300000000000000000000000000",
            "tee_tcb_svn2": "0d010300000000000000000000000000",
            "xfam": "e718060000000000",
            "mr_service_td": "00" * 48,
            "mr_td": "273828c46252fcbdd8ad2dd907130222b03466d52a2911d70c1a5950895d6bd1ae451d382d5a9b1b4c0ed0e5ae9a3dbd",
        },
    ),
    "quote_v5_sample": (
        5,
        "TDX",
        TdReport15,
        5006,
        {
            "mr_seam": "7bf063280e94fb051f5dd7b1fc59ce9aac42bb961df8d44b709c9b0ff87a7b4df648657ba6d1189589feab1d5a3c9a9d",
            "tee_tcb_svn2": "0d010400000000000000000000000000",
        },
    ),
    "near_quote": (
        4,
        "TDX",
        TdReport10,
        4936,
        {
            "mr_config_id": "0112a20aed7d6c68601e9f6e108a93b4199ae7231684307ffc4833c9cd08d45de7000000000000000000000000000000",
            "rtmr3": "287a9242edd8c8429913ec66f44af611b820cf9b574f303a6caeddeb4c9826311aef6e518aaf4a17f55a81154592b7b3",
            "xfam": "0702000000000000",
        },
    ),
    "cos_113": (4, "TDX", TdReport10, 4935, {"report_data": "00" * 64}),
    "sgx_quote": (
        3,
        "SGX",
        EnclaveReport,
        4600,
        {
            "mr_enclave": "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb",
            "mr_signer": "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6",
            "attributes": "0500000000000000e700000000000000",
            "report_data": b"Hello, world!".hex() + "00" * 51,
        },
    ),
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_sample_fields_and_round_trip(attest_samples: dict[str, Sample], name: str) -> None:
    version, tee, cls, size, fields = GOLDEN[name]
    raw = attest_samples[name].quote
    q = parse_quote(raw)
    assert (q.header.version, q.tee, type(q.report), q.size) == (version, tee, cls, size)
    got = q.report.fields()
    for k, v in fields.items():
        assert got[k] == v, k
    assert q.to_bytes() == raw[: q.size]
    assert parse_quote(q.to_bytes()) == q
    assert q.signed == raw[: len(q.signed)]
    assert q.signature_data.qe.certification_data.cert_type == 5


def test_every_truncation_is_a_named_error(attest_samples: dict[str, Sample]) -> None:
    raw = attest_samples["tdx_quote"].quote[:4936]
    for n in range(len(raw)):
        with pytest.raises(QuoteParseError) as ei:
            parse_quote(raw[:n])
        assert ei.value.field and 0 <= ei.value.offset <= n
        assert isinstance(ei.value, InputError)


def test_truncated_to_1000_names_field_and_offset(attest_samples: dict[str, Sample]) -> None:
    with pytest.raises(QuoteParseError) as ei:
        parse_quote(attest_samples["tdx_quote"].quote[:1000])
    assert ei.value.field == "signature_data.size"
    assert ei.value.offset == 48 + 584


def _patch(raw: bytes, off: int, fmt: str, value: int) -> bytes:
    b = bytearray(raw)
    struct.pack_into(fmt, b, off, value)
    return bytes(b)


SIG_OFF = 48 + 584  # v4 signature_data_len
CERT_OFF = SIG_OFF + 4 + 128  # outer certification data (type, size)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda r: _patch(r, 0, "<H", 6), "header.version"),
        (lambda r: _patch(r, 4, "<I", 0x82), "header.tee_type"),
        (lambda r: _patch(r, 4, "<I", 0), "signature_data"),
        (lambda r: _patch(r, SIG_OFF, "<I", 0xFFFFFFFF), "signature_data.size"),
        (lambda r: _patch(r, SIG_OFF, "<I", 4300 - 1), "signature_data.certification_data.size"),
        (lambda r: _patch(r, CERT_OFF, "<H", 5), "signature_data.certification_data.type"),
        (lambda r: _patch(r, CERT_OFF + 2, "<I", 10**6), "signature_data.certification_data.size"),
    ],
    ids=[
        "version",
        "tee-type",
        "tee-type-sgx-with-td-body",
        "sig-len-huge",
        "sig-len-short",
        "cert-type-5-outer",
        "cert-size-huge",
    ],
)
def test_mutated_lengths_and_types(attest_samples: dict[str, Sample], mutate, field: str) -> None:
    raw = attest_samples["tdx_quote"].quote[:4936]
    with pytest.raises(QuoteParseError) as ei:
        parse_quote(mutate(raw))
    assert ei.value.field.startswith(field) or field.startswith(ei.value.field)


def test_v5_body_size_and_type_checked(attest_samples: dict[str, Sample]) -> None:
    raw = attest_samples["quote_v5_sample"].quote
    with pytest.raises(QuoteParseError) as ei:
        parse_quote(_patch(raw, 48, "<H", 4))
    assert ei.value.field == "body.type"
    with pytest.raises(QuoteParseError) as ei:
        parse_quote(_patch(raw, 50, "<I", 584))
    assert ei.value.field == "body.size"


def test_not_bytes_is_input_error() -> None:
    with pytest.raises(InputError):
        parse_quote("not bytes")  # type: ignore[arg-type]


def _golden_doc(q) -> dict:
    import hashlib

    h = q.header
    return {
        "header": {
            "version": h.version,
            "attestation_key_type": h.attestation_key_type,
            "tee_type": h.tee_type,
            "qe_svn": h.qe_svn,
            "pce_svn": h.pce_svn,
            "qe_vendor_id": h.qe_vendor_id.hex(),
            "user_data": h.user_data.hex(),
        },
        "body_type": q.body_type,
        "size": q.size,
        "body": q.report.fields(),
        "qe_report": q.signature_data.qe.qe_report_body.fields(),
        "attestation_key": q.signature_data.attestation_key.hex(),
        "qe_auth_data": q.signature_data.qe.qe_auth_data.hex(),
        "pck_chain_sha256": hashlib.sha256(q.signature_data.pck_chain_pem).hexdigest(),
    }


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_json_of_parsed_sample(attest_samples: dict[str, Sample], name: str) -> None:
    import json
    from pathlib import Path

    golden = json.loads((Path(__file__).parent / "golden" / f"{name}.json").read_text())
    assert _golden_doc(parse_quote(attest_samples[name].quote)) == golden


#: the 39 bytes go-tdx-guest's production sample tdx_prod_quote_SPR_E4.dat carries after
#: its quote (the quote ends at 4935 = 48 + 584 + 4 + 4299; the file is 4974 bytes)
SPR_E4_TAIL = b"\nextra bytes(only for testing purpose)\n"


@pytest.mark.parametrize(
    ("tail", "zero"),
    [(b"", True), (bytes(70), True), (SPR_E4_TAIL, False), (b"\x01", False)],
    ids=["none", "zero-padding", "spr-e4-text", "one-byte"],
)
def test_trailing_bytes_are_kept_apart_and_unauthenticated(
    attest_samples: dict[str, Sample], tail: bytes, zero: bool
) -> None:
    raw = attest_samples["tdx_quote"].quote[:4936]
    q = parse_quote(raw + tail)
    assert q.size == 4936 and q.trailing == tail
    assert q == parse_quote(raw)  # the quote itself is the same quote
    assert q.to_bytes() == raw  # and the tail is not part of it
    assert q.trailing_is_zero_padding is zero
    doc = q.trailing_json()
    assert doc["count"] == len(tail) and doc["authenticated"] is False
    assert doc["zero_padding"] is zero
