"""Quote verification throughput: sealfeed fresh (collateral verified every time),
sealfeed with verified collateral cached (VerifiedCollateral), and dcap-qvl (Rust, PyPI)
on the same real samples in the same run.

    uv run python bench/verify_quote.py [--seconds 1.0] [--samples DIR]

Prints one JSON line, then a human table.
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import dcap_qvl

from sealfeed.attest import load_collateral, verify_collateral, verify_quote

ROOT = Path(__file__).resolve().parents[1]
# (name, quote file, collateral file, now) -- times inside each collateral's window
SAMPLES = [
    ("tdx_quote (v4)", "dcap-qvl/tdx_quote", "dcap-qvl/tdx_quote_collateral.json", 1751328000),
    ("sgx_quote (v3)", "dcap-qvl/sgx_quote", "dcap-qvl/sgx_quote_collateral.json", 1751328000),
    (
        "quote_v5_sample (v5)",
        "go-tdx-guest/quote_v5_sample.dat",
        "dcap-qvl/tdx_quote_outdated_collateral.json",
        1772323200,
    ),
    (
        "near_quote (v4)",
        "dcap-qvl/near_quote_hex.txt",
        "dcap-qvl/near_quote_collateral.json",
        1757894400,
    ),
]


def rate(fn: Callable[[], object], seconds: float) -> float:
    fn()  # warm up
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(20):
            fn()
        n += 20
    return n / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    ap.add_argument("--samples", type=Path, default=ROOT.parent / "shared" / "tdx-samples")
    args = ap.parse_args()
    rows = []
    for name, qf, cf, now in SAMPLES:
        qp = args.samples / qf
        raw = bytes.fromhex(qp.read_text()) if qp.suffix == ".txt" else qp.read_bytes()
        coll = load_collateral(args.samples / cf)
        dcoll = dcap_qvl.QuoteCollateralV3.from_json((args.samples / cf).read_text())
        vc = verify_collateral(coll, now=now)
        ours = verify_quote(raw, vc, now=now)
        theirs = dcap_qvl.verify(raw, dcoll, now)
        assert (ours.tcb_status.value, list(ours.advisory_ids)) == (
            theirs.status,
            list(theirs.advisory_ids),
        )
        fresh = functools.partial(verify_quote, raw, coll, now=now)
        cached = functools.partial(verify_quote, raw, vc, now=now)
        oracle = functools.partial(dcap_qvl.verify, raw, dcoll, now)
        rows.append(
            {
                "sample": name,
                "status": ours.tcb_status.value,
                "sealfeed_fresh_qps": round(rate(fresh, args.seconds)),
                "sealfeed_cached_qps": round(rate(cached, args.seconds)),
                "dcap_qvl_qps": round(rate(oracle, args.seconds)),
            }
        )
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        commit = "unknown"
    doc = {
        "bench": "verify_quote",
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": commit,
        "python": platform.python_version(),
        "dcap_qvl": dcap_qvl.version("dcap-qvl") if hasattr(dcap_qvl, "version") else "?",
        "seconds_per_measurement": args.seconds,
        "results": rows,
    }
    print(json.dumps(doc))
    print()
    print(f"{'sample':24} {'status':36} {'fresh q/s':>10} {'cached q/s':>11} {'dcap-qvl q/s':>13}")
    for r in rows:
        print(
            f"{r['sample']:24} {r['status']:36} {r['sealfeed_fresh_qps']:>10} "
            f"{r['sealfeed_cached_qps']:>11} {r['dcap_qvl_qps']:>13}"
        )


if __name__ == "__main__":
    main()
