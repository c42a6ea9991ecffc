"""Collateral over HTTP from a fake PCS/PCCS (real paths and headers): fetch, exact signed
bytes, on-disk cache keyed by TEE/FMSPC/CA honouring nextUpdate, and failures as
ExternalError (exit 3)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sealfeed.attest import verify_quote
from sealfeed.attest.collateral import CollateralCache, fetch_collateral, get_collateral
from sealfeed.cli import main
from sealfeed.errors import ExternalError
from tests.attest.conftest import Sample
from tests.fakes.pcs import FakePcs, serve_fake_pcs

FMSPC = bytes.fromhex("b0c06f000000")
NOW = datetime.fromtimestamp(1751328000, UTC)
AFTER = datetime.fromtimestamp(1752919235, UTC)  # = PCK CRL nextUpdate


@pytest.fixture
def pcs(attest_samples: dict[str, Sample]) -> Iterator[FakePcs]:
    with serve_fake_pcs() as fake:
        fake.add("tdx", "B0C06F000000", "platform", attest_samples["tdx_quote"].collateral)
        yield fake


def test_fetch_uses_real_paths_and_reproduces_collateral(
    pcs: FakePcs, attest_samples: dict[str, Sample]
) -> None:
    coll = asyncio.run(fetch_collateral(pcs.url, tee="TDX", fmspc=FMSPC, ca="platform"))
    assert coll == attest_samples["tdx_quote"].collateral  # exact signed bytes survive
    assert pcs.requests == [
        "/sgx/certification/v4/pckcrl?ca=platform&encoding=der",
        "/tdx/certification/v4/tcb?fmspc=B0C06F000000",
        "/tdx/certification/v4/qe/identity",
        "/sgx/certification/v4/rootcacrl",
    ]
    assert (
        verify_quote(attest_samples["tdx_quote"].quote, coll, now=NOW).tcb_status.value
        == "UpToDate"
    )


def test_legacy_tcb_chain_header_accepted(pcs: FakePcs) -> None:
    pcs.tcb_chain_header = "SGX-TCB-Info-Issuer-Chain"
    coll = asyncio.run(fetch_collateral(pcs.url, tee="TDX", fmspc=FMSPC, ca="platform"))
    assert coll.tcb_info_issuer_chain.startswith("-----BEGIN CERTIFICATE-----")


def test_cache_hit_until_next_update(pcs: FakePcs, tmp_path: Path) -> None:
    args = dict(tee="TDX", fmspc=FMSPC, ca="platform", cache_dir=tmp_path)
    _, how = asyncio.run(get_collateral(pcs.url, now=NOW, **args))
    assert how == "fetched" and len(pcs.requests) == 4
    assert (tmp_path / "tdx-B0C06F000000-platform.json").is_file()
    _, how = asyncio.run(get_collateral(pcs.url, now=NOW, **args))
    assert how == "cache" and len(pcs.requests) == 4
    # at the earliest nextUpdate (the PCK CRL's) the entry is stale: refetched
    _, how = asyncio.run(get_collateral(pcs.url, now=AFTER, **args))
    assert how == "fetched" and len(pcs.requests) == 8
    assert CollateralCache(tmp_path).get("TDX", FMSPC, "platform", AFTER) is None


def test_corrupt_cache_entry_is_refetched(pcs: FakePcs, tmp_path: Path) -> None:
    (tmp_path / "tdx-B0C06F000000-platform.json").write_text("{not json")
    _, how = asyncio.run(
        get_collateral(pcs.url, tee="TDX", fmspc=FMSPC, ca="platform", now=NOW, cache_dir=tmp_path)
    )
    assert how == "fetched"


@pytest.mark.parametrize("case", ["unknown-fmspc", "server-error", "unreachable"])
def test_failures_are_external_errors(pcs: FakePcs, case: str, free_port) -> None:
    url, fmspc = pcs.url, FMSPC
    if case == "unknown-fmspc":
        fmspc = bytes.fromhex("00906ed50000")
    elif case == "server-error":
        pcs.fail_with = 503
    else:
        url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ExternalError) as ei:
        asyncio.run(fetch_collateral(url, tee="TDX", fmspc=fmspc, ca="platform", timeout=5))
    assert ei.value.exit_code == 3


def test_cli_pccs_with_cache(pcs: FakePcs, tdx_samples: Path, tmp_path: Path, capsys) -> None:
    q = str(tdx_samples / "dcap-qvl" / "tdx_quote")
    argv = [
        "attest",
        "verify-quote",
        q,
        "--pccs",
        pcs.url,
        "--cache-dir",
        str(tmp_path),
        "--at",
        "2025-07-01T00:00:00Z",
        "--json",
    ]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "accepted" and doc["collateral_source"].startswith("fetched")
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["collateral_source"].startswith("cache") and len(pcs.requests) == 4
    # the cache directory also works offline as --collateral DIR
    assert (
        main(["attest", "verify-quote", q, "--collateral", str(tmp_path), "--at", "1751328000"])
        == 0
    )


def test_cli_pccs_unreachable_exit_3(tdx_samples: Path, free_port, capsys) -> None:
    q = str(tdx_samples / "dcap-qvl" / "tdx_quote")
    assert main(["attest", "verify-quote", q, "--pccs", f"http://127.0.0.1:{free_port()}"]) == 3
    assert "cannot reach PCS" in capsys.readouterr().err


def test_sgx_processor_ca_from_synthetic_pki(tmp_path: Path) -> None:
    from tests.fakes.intel_pki import Scenario

    b = Scenario(tee="SGX", quote_version=3, pck_ca_name="Intel SGX PCK Processor CA").build()
    with serve_fake_pcs() as fake:
        fake.add("sgx", "B0C06F000000", "processor", b.collateral)
        coll, how = asyncio.run(
            get_collateral(
                fake.url, tee="SGX", fmspc=FMSPC, ca="processor", now=b.now, cache_dir=tmp_path
            )
        )
        assert fake.requests[:2] == [
            "/sgx/certification/v4/pckcrl?ca=processor&encoding=der",
            "/sgx/certification/v4/tcb?fmspc=B0C06F000000",
        ]
    assert how == "fetched" and coll == b.collateral
    r = verify_quote(b.quote, coll, now=b.now, trust_roots=[b.root_fingerprint])
    assert r.pck_ca == "processor" and r.tcb_status.value == "UpToDate"
