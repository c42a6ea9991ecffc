"""``sealfeed verify``: one verdict for people who must not trust the operator.

Thin glue: flags -> loaded inputs (:mod:`sealfeed.verify.evidence`) -> :func:`run` ->
output. The environment is read here and passed in (``CONFIGURATION_PUBLIC_KEY``).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from sealfeed.errors import ExitCode
from sealfeed.output import add_json_flag


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Check the whole chain: the configuration is signed by the owner's key, the TDX quote "
        "is genuine and matches the policy, and the evidence binds exactly the measured image "
        "and exactly that configuration. Exit 0 accepted, 1 rejected (the failing link is "
        "named first), 2 bad input, 3 collateral unavailable."
    )
    parser.epilog = (
        "Bytes after the quote's end are not covered by any signature: they are reported "
        'as unauthenticated and ignored; a policy with "allow_trailing_bytes": false '
        "rejects them (attest/policy.schema.json)."
    )
    parser.add_argument("--image-measurement", required=True, metavar="FILE",
                        help="golden measurement, attest/measurements/<version>.json")  # fmt: skip
    parser.add_argument("--config", required=True, help="the signed configuration.json")
    parser.add_argument(
        "--pubkey",
        help="owner's public key (default: env CONFIGURATION_PUBLIC_KEY = base64 SPKI DER, "
        "or CONFIGURATION_PUBLIC_KEY_FILE)",
    )
    evidence = parser.add_mutually_exclusive_group(required=True)
    evidence.add_argument(
        "--quote", help="TDX quote (raw or hex) whose report_data binds image + config"
    )
    evidence.add_argument(
        "--order-report", help="Super Protocol order report (spctl orders get-report --save-to)"
    )
    evidence.add_argument(
        "--url",
        metavar="http://HOST:PORT",
        help="fetch the appliance's attestation document (GET /attestation on its exporter) "
        "and verify its quote; every claim in it is recomputed, none trusted",
    )
    evidence.add_argument(
        "--attestation",
        metavar="FILE",
        help="a saved attestation document (or the container log's `sealfeed-attestation:` "
        "line): verified like --url, offline",
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
    parser.set_defaults(func=cmd_verify)


def evidence_from_args(args: argparse.Namespace) -> Any:
    """The Evidence the flags name: files, a saved attestation document, or a fetched one."""
    from sealfeed.verify.evidence import evidence_from_attestation_file, evidence_from_files

    if getattr(args, "url", None):
        from sealfeed.verify.fetch import fetch_evidence

        return fetch_evidence(args.url)
    if getattr(args, "attestation", None):
        return evidence_from_attestation_file(args.attestation)
    return evidence_from_files(
        quote=args.quote or args.report_quote, order_report=args.order_report
    )


def cmd_verify(args: argparse.Namespace) -> ExitCode:
    from pathlib import Path

    from sealfeed.attest import CollateralSource, Policy, load_policy
    from sealfeed.config.loader import trust_from_args
    from sealfeed.errors import InputError
    from sealfeed.image.measure import load_measurement
    from sealfeed.output import emit
    from sealfeed.sp import SpAnchors, load_certificate
    from sealfeed.timearg import parse_at
    from sealfeed.verify import (
        Inputs,
        load_config,
        make_quote_verifier,
        render_human,
        run,
    )

    if args.report_quote and not args.order_report:
        raise InputError("--report-quote goes with --order-report", location="--report-quote")
    at = parse_at(args.at)
    measurement = load_measurement(args.image_measurement).raw
    trust = trust_from_args(args.pubkey, os.environ)
    evidence = evidence_from_args(args)
    verifier = None
    if evidence.quote is not None:
        verifier = make_quote_verifier(
            collateral=CollateralSource.from_flags(args.collateral, args.pccs),
            policy=load_policy(args.policy) if args.policy else Policy(),
            at=at,
            trust_roots=args.root_ca_fingerprint,
        )
    anchors = SpAnchors(
        ca=load_certificate(args.sp_ca, "--sp-ca") if args.sp_ca else None,
        tee_loader_cert=load_certificate(args.tee_loader_cert, "--tee-loader-cert")
        if args.tee_loader_cert
        else None,
        signatures_dir=Path(args.sp_signatures) if args.sp_signatures else None,
    )
    inputs = Inputs(
        config=load_config(args.config, trust, secrets_dir=args.secrets_dir),
        measurement=measurement,
        at=at,
        evidence=evidence,
        sp=anchors,
    )
    verdict = run(inputs, verifier)
    emit(args, verdict.to_json(), lambda: render_human(verdict))
    return ExitCode.OK if verdict.ok else ExitCode.FAILED


__all__ = ["cmd_verify", "evidence_from_args", "register"]
