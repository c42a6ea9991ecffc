"""Fixtures for the attest tests: the real samples and the synthetic PKI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from sealfeed.attest import Collateral, load_collateral


@dataclass(frozen=True)
class Sample:
    name: str
    quote: bytes
    collateral_path: Path | None
    collateral: Collateral | None


def read_quote(path: Path) -> bytes:
    data = path.read_bytes()
    return bytes.fromhex(data.decode()) if path.suffix == ".txt" else data


#: (id, quote file, collateral file or None) relative to ../shared/tdx-samples
SAMPLES = {
    "tdx_quote": ("dcap-qvl/tdx_quote", "dcap-qvl/tdx_quote_collateral.json"),
    "sgx_quote": ("dcap-qvl/sgx_quote", "dcap-qvl/sgx_quote_collateral.json"),
    "tdx_quote_outdated": (
        "dcap-qvl/tdx_quote_outdated",
        "dcap-qvl/tdx_quote_outdated_collateral.json",
    ),
    "quote_v5_sample": (
        "go-tdx-guest/quote_v5_sample.dat",
        "dcap-qvl/tdx_quote_outdated_collateral.json",
    ),
    "near_quote": ("dcap-qvl/near_quote_hex.txt", "dcap-qvl/near_quote_collateral.json"),
    "cos_113": ("go-tdx-guest/ccel/cos-113-tdx-quote.dat", None),
}


@pytest.fixture(scope="session")
def attest_samples(tdx_samples: Path) -> dict[str, Sample]:
    out = {}
    for name, (q, c) in SAMPLES.items():
        cp = tdx_samples / c if c else None
        out[name] = Sample(
            name, read_quote(tdx_samples / q), cp, load_collateral(cp) if cp else None
        )
    return out
