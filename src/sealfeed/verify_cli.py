"""``sealfeed verify``: one verdict for people who must not trust the operator."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sealfeed.errors import InputError
from sealfeed.output import add_json_flag


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Check the whole chain: the configuration is signed by the owner's key, the TDX quote "
        "is genuine and matches the policy, and the evidence binds exactly the measured image "
        "and exactly that configuration. Exit 0 accepted, 1 rejected (the failing link is "
        "named first), 2 bad input, 3 collateral unavailable."
    )
    parser.add_argument("--image-measurement", required=True, metavar="FILE",
                        help="golden measurement, attest/measurements/<version>.json")  # fmt: skip
    parser.add_argument("--config", required=True, help="the signed configuration.json")
    parser.add_argument(
        "--pubkey", help="owner's public key (default: env CONFIGURATION_PUBLIC_KEY)"
    )
    evidence = parser.add_mutually_exclusive_group(required=True)
    evidence.add_argument("--quote", help="raw TDX quote whose report_data binds image + config")
    evidence.add_argument(
        "--order-report", help="Super Protocol order report (spctl orders get-report --save-to)"
    )
    parser.add_argument(
        "--report-quote",
        help="with --order-report: the TEE's raw quote, bound to the certificate key",
    )
    parser.add_argument("--collateral", help="collateral JSON file or directory (offline)")
    parser.add_argument("--pccs", help="PCS/PCCS base URL to fetch collateral from")
    parser.add_argument(
        "--policy", help="attestation policy JSON (default: attest/policy.json rules)"
    )
    parser.add_argument("--sp-ca", help="Super Protocol root CA certificate (PEM)")
    parser.add_argument("--tee-loader-cert", help="Super Protocol TEE loader certificate (PEM)")
    parser.add_argument(
        "--sp-signatures", help="sp-vm signatures/ directory (TD measurement allow-list)"
    )
    parser.add_argument("--at", help="verification time, ISO-8601 or epoch seconds (default now)")
    parser.add_argument(
        "--root-ca-fingerprint",
        action="append",
        metavar="SHA256",
        help="pin another quote root CA (test PKIs only; default: the Intel SGX Root CA pin)",
    )
    parser.add_argument("--secrets-dir", help='resolve {"secretFile"} references here')
    add_json_flag(parser)
    parser.set_defaults(func=_verify)


def read_bytes(path: str, what: str) -> bytes:
    p = Path(path)
    try:
        return p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {what}: {exc.strerror}", location=str(p)) from None


def load_cert(path: str, flag: str) -> Any:
    from cryptography import x509

    data = read_bytes(path, "certificate")
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        try:
            return x509.load_der_x509_certificate(data)
        except ValueError:
            raise InputError(f"{flag}: not a PEM/DER certificate", location=path) from None


def _verify(args: argparse.Namespace) -> int:
    from sealfeed.config.loader import trust_from_args
    from sealfeed.output import emit
    from sealfeed.sp.orderreport import load_order_report
    from sealfeed.timearg import parse_at
    from sealfeed.verification import Inputs, render_human, run
    from sealfeed.verify_quote import make_quote_verifier

    at = parse_at(args.at)
    from sealfeed.image.measure import load_measurement

    measurement = load_measurement(args.image_measurement).raw
    quote_path = args.quote or args.report_quote
    quote = read_bytes(quote_path, "quote") if quote_path else None
    inputs = Inputs(
        config_path=Path(args.config),
        trust=trust_from_args(args.pubkey),
        measurement=measurement,
        at=at,
        quote=quote,
        order_report=load_order_report(args.order_report) if args.order_report else None,
        sp_ca=load_cert(args.sp_ca, "--sp-ca") if args.sp_ca else None,
        tee_loader_cert=load_cert(args.tee_loader_cert, "--tee-loader-cert")
        if args.tee_loader_cert
        else None,
        signatures_dir=Path(args.sp_signatures) if args.sp_signatures else None,
        secrets_dir=args.secrets_dir,
    )
    verifier = (
        make_quote_verifier(
            collateral=args.collateral,
            pccs=args.pccs,
            policy=args.policy,
            at=at,
            trust_roots=args.root_ca_fingerprint,
        )
        if quote is not None
        else None
    )
    verdict = run(inputs, verifier)
    emit(args, verdict.to_json(), lambda: render_human(verdict))
    return 0 if verdict.ok else 1
