"""``sealfeed secrets import`` (the appliance's root oneshot) and ``sealfeed secrets seal``
(the operator's side): operator secrets into the TEE, sealed to a key only the verified
appliance holds (ADR 0131). Thin glue over :mod:`sealfeed.secrets.importer` and
:mod:`sealfeed.secrets.sealed`; the verdict behind ``seal`` is ``sealfeed verify``'s."""

from __future__ import annotations

import argparse
from typing import Any

from sealfeed.errors import ExitCode, InputError
from sealfeed.output import add_json_flag


def register(parser: argparse.ArgumentParser) -> None:
    from sealfeed.config.args import add_config_arguments

    sub = parser.add_subparsers(dest="secrets_command", metavar="SUBCOMMAND")
    imp = sub.add_parser(
        "import",
        help="inside the appliance: import sealed operator secrets, give every secret file "
        "to its consumer (the secrets-import oneshot)",
        description="Verify the configuration; create the appliance's import key on first "
        "start; open every sealed bundle (*.sealed.json) in the inputs; write the secrets the "
        "configuration references (0600, atomically, owned by the account of the component "
        "that reads them); generate the `generate: true` ones; chown/chmod the rest. Nothing "
        "is written unless every bundle opens and fits the configuration. Values are never "
        "printed.",
    )
    add_config_arguments(imp, consumer="supervision")
    imp.add_argument(
        "--inputs",
        action="append",
        default=[],
        metavar="DIR",
        help="where sealed bundles arrive (repeatable; default: env SP_INPUTS_DIR or "
        "/sp/inputs, Super Protocol's order inputs, one subdirectory per input)",
    )
    imp.add_argument(
        "--owner",
        action="append",
        default=[],
        metavar="CONSUMER=ACCOUNT",
        help="the account a component runs as (aggregator, exporter, chainlink, postgres, "
        "link); "
        "its secret files are given to it. Unset: files stay with the caller.",
    )
    imp.add_argument(
        "--reader-dir",
        action="append",
        default=[],
        metavar="CONSUMER=DIR",
        help="a component that reads another's secrets (link: the exporter's push "
        "credentials) gets its own 0600 copy of exactly those files in DIR, owned by its "
        "--owner account (ADR 0146)",
    )
    add_json_flag(imp)
    imp.set_defaults(func=cmd_import)

    seal = sub.add_parser(
        "seal",
        help="operator side: verify the appliance's attestation, then seal secrets to its "
        "import key",
        description="Verify the appliance exactly as `sealfeed verify --url/--attestation` "
        "does (the measured image, the signed configuration, a TD-pinned policy, and the "
        "quote's commitment to the import key); only when the verdict is ACCEPTED, encrypt "
        "the secret files the configuration references (read from --from, laid out like the "
        "secrets directory) to that key (HPKE X25519/HKDF-SHA256/AES-256-GCM) and write the "
        "sealed bundle. Deliver the bundle as an order input (Super Protocol: spctl files "
        "upload + workflows create --data) or into the appliance's inputs directory.",
        epilog="Exit 0 sealed, 1 the appliance did not verify (nothing written), 2 bad input, "
        "3 attestation or collateral unavailable.",
    )
    seal.add_argument(
        "--attestation",
        required=True,
        metavar="URL|FILE",
        help="http(s)://HOST:PORT of the appliance's exporter, or a saved document",
    )
    seal.add_argument("--image-measurement", required=True, metavar="FILE",
                      help="golden measurement, attest/measurements/<version>.json")  # fmt: skip
    seal.add_argument("--config", required=True, help="the signed configuration.json")
    seal.add_argument("--pubkey", help="owner's public key (default: env CONFIGURATION_PUBLIC_KEY)")
    seal.add_argument("--policy", help="attestation policy JSON; must pin the TD")
    seal.add_argument("--collateral", help="collateral JSON file or directory (offline)")
    seal.add_argument("--pccs", help="PCS/PCCS base URL to fetch collateral from")
    seal.add_argument("--at", help="verification time (default now)")
    seal.add_argument("--root-ca-fingerprint", action="append", metavar="SHA256",
                      help="pin another quote root CA (test PKIs only)")  # fmt: skip
    seal.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="DIR",
        help="your local copy of the secret files, at the names the configuration uses",
    )
    seal.add_argument("--out", required=True, help="the sealed bundle to write (*.sealed.json)")
    add_json_flag(seal)
    seal.set_defaults(func=cmd_seal)


def _owners(items: list[str]) -> dict[str, Any]:
    from sealfeed.config.loader import SECRET_SCOPES
    from sealfeed.secrets.importer import owner_of

    out: dict[str, Any] = {}
    for item in items:
        consumer, sep, account = item.partition("=")
        if not sep or consumer not in SECRET_SCOPES or not account:
            raise InputError(
                f"expected CONSUMER=ACCOUNT with CONSUMER one of {', '.join(SECRET_SCOPES)}, "
                f"got {item!r}",
                location="--owner",
            )
        out[consumer] = owner_of(account)
    return out


def _reader_dirs(items: list[str]) -> dict[str, str]:
    from sealfeed.config.loader import SECRET_READERS

    out: dict[str, str] = {}
    for item in items:
        consumer, sep, directory = item.partition("=")
        if not sep or consumer not in SECRET_READERS or not directory:
            raise InputError(
                f"expected CONSUMER=DIR with CONSUMER one of {', '.join(SECRET_READERS)}, "
                f"got {item!r}",
                location="--reader-dir",
            )
        out[consumer] = directory
    return out


def cmd_import(args: argparse.Namespace) -> ExitCode:
    import os

    from sealfeed.config.loader import load_and_verify, secret_file_refs, trust_from_args
    from sealfeed.output import emit
    from sealfeed.secrets.importer import run_import

    owners = _owners(args.owner)
    reader_dirs = _reader_dirs(args.reader_dir)
    verified = load_and_verify(args.config, trust_from_args(args.pubkey, os.environ),
                               read_secrets=False)  # fmt: skip
    secrets_dir = args.secrets_dir or verified.config.secrets_dir
    report = run_import(
        secret_file_refs(verified.document.solution),
        secrets_dir,
        args.inputs or [os.environ.get("SP_INPUTS_DIR") or "/sp/inputs"],
        owners,
        reader_dirs,
    )
    emit(args, report.as_dict(), report.human())
    return ExitCode.OK


def cmd_seal(args: argparse.Namespace) -> ExitCode:
    import os
    import sys
    from pathlib import Path

    from sealfeed.attest import CollateralSource, Policy, load_policy
    from sealfeed.config.loader import secret_file_refs, trust_from_args
    from sealfeed.fsutil import atomic_write
    from sealfeed.image.measure import load_measurement
    from sealfeed.output import emit
    from sealfeed.secret import read_secret_file
    from sealfeed.secrets.importer import BUNDLE_SUFFIX
    from sealfeed.secrets.sealed import key_id, seal
    from sealfeed.timearg import parse_at
    from sealfeed.verify import Inputs, load_config, make_quote_verifier, render_human, run
    from sealfeed.verify.evidence import evidence_from_attestation_file

    if not args.out.endswith(BUNDLE_SUFFIX):
        raise InputError(f"the appliance imports files named *{BUNDLE_SUFFIX}", location="--out")
    at = parse_at(args.at)
    trust = trust_from_args(args.pubkey, os.environ)
    config = load_config(args.config, trust)
    if args.attestation.startswith(("http://", "https://")):
        from sealfeed.verify.fetch import fetch_evidence

        evidence = fetch_evidence(args.attestation)
    else:
        evidence = evidence_from_attestation_file(args.attestation)
    verifier = None
    if evidence.quote is not None:
        verifier = make_quote_verifier(
            collateral=CollateralSource.from_flags(args.collateral, args.pccs),
            policy=load_policy(args.policy) if args.policy else Policy(),
            at=at,
            trust_roots=args.root_ca_fingerprint,
        )
    verdict = run(
        Inputs(config=config, measurement=load_measurement(args.image_measurement).raw, at=at,
               evidence=evidence),
        verifier,
    )  # fmt: skip
    key_bound = any(c.name == "import-key-binding" and c.ok for c in verdict.checks)
    if not verdict.ok or not key_bound or evidence.import_key is None:
        sys.stderr.write(render_human(verdict) + "\n")
        why = "" if verdict.ok else " did not verify"
        if verdict.ok:
            why = " presents no import key bound by its quote"
        sys.stderr.write(f"sealfeed secrets seal: the appliance{why}; nothing was sealed\n")
        return ExitCode.FAILED
    assert not isinstance(config, Exception)
    wanted = sorted({r.file for r in secret_file_refs(config.document.solution) if not r.generate})
    if not wanted:
        raise InputError("the configuration references no operator secret files "
                         '({"secretFile": ...} without "generate")', location=args.config)  # fmt: skip
    base = Path(args.source)
    missing = [n for n in wanted if not (base / n).is_file()]
    if missing:
        raise InputError(f"missing here: {', '.join(missing)} (the configuration references "
                         "them; put each at that relative path)", location=str(base))  # fmt: skip
    values = {n: read_secret_file(base / n, what=f"secret {n}") for n in wanted}
    bundle = seal(values, evidence.import_key)
    import json

    atomic_write(args.out, json.dumps(bundle.to_json(), indent=2) + "\n", mode=0o644)
    doc = {"ok": True, "out": args.out, "recipient": key_id(evidence.import_key),
           "secrets": wanted, "verdict": verdict.to_json()}  # fmt: skip
    emit(args, doc, f"{render_human(verdict)}\nsealed {len(wanted)} secret(s) "
         f"({', '.join(wanted)}) to import key {key_id(evidence.import_key)} -> {args.out}")  # fmt: skip
    return ExitCode.OK


__all__ = ["cmd_import", "cmd_seal", "register"]
