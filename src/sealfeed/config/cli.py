"""``sealfeed config ...``: keygen, sign, verify, check, schema."""

from __future__ import annotations

import argparse
import os

from sealfeed.errors import ExitCode
from sealfeed.output import add_json_flag
from sealfeed.secret import Secret

SECRETS_DIR_HELP = (
    'also read every {"secretFile": ...} reference from this directory (default: references '
    "are validated, the files are not read -- an auditor has none of them)"
)


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="config_command", metavar="SUBCOMMAND")

    p = sub.add_parser(
        "keygen",
        help="create a signing key pair (private key written 0600, never overwritten)",
        description="Create a configuration signing key pair: PREFIX.pem (PKCS#8, mode 0600) "
        "and PREFIX.pub (SPKI). Prints the fingerprint and the base64 DER form to bake in as "
        "CONFIGURATION_PUBLIC_KEY.",
    )
    p.add_argument(
        "--scheme",
        choices=["ed25519-jcs", "secp256k1-objecthash"],
        default="ed25519-jcs",
        help="ed25519-jcs (recommended) or secp256k1-objecthash (Super-Protocol/chainlink "
        "compatible); default %(default)s",
    )
    p.add_argument("--out", required=True, metavar="PREFIX", help="write PREFIX.pem and PREFIX.pub")
    p.add_argument("--force", action="store_true", help="overwrite an existing private key")
    add_json_flag(p)
    p.set_defaults(func=_keygen)

    p = sub.add_parser(
        "sign",
        help="sign a configuration (scheme chosen by the key type)",
        description="Validate, then sign CONFIG. A secp256k1 key writes the reference "
        "`signature` field into the solution object (file rewritten atomically, or --out); "
        "an Ed25519 key writes the detached CONFIG.sig.",
    )
    p.add_argument("config", metavar="CONFIG")
    p.add_argument("--key", required=True, help="private key file (PEM/DER/base64 PKCS#8)")
    p.add_argument("--out", help="write the signed configuration here instead of in place")
    p.add_argument("--sig-out", help="detached signature path (default CONFIG.sig)")
    p.add_argument(
        "--embed",
        action="store_true",
        help="ed25519-jcs: put the signature inside the solution (sealfeedSignature) instead of "
        "a detached file -- for platforms that deliver only configuration.json (Super Protocol)",
    )
    p.add_argument("--no-check", action="store_true", help="sign even if the schema check fails")
    add_json_flag(p)
    p.set_defaults(func=_sign)

    p = sub.add_parser(
        "verify",
        help="verify the signature, then the schema (exit 1 if not signed by the key)",
        description="Verify CONFIG against the trusted public key (fail closed), then check "
        "its schema. Prints the signed digest and the key fingerprint.",
    )
    p.add_argument("config", metavar="CONFIG")
    p.add_argument(
        "--pubkey",
        help="trusted public key file (default: env CONFIGURATION_PUBLIC_KEY base64 SPKI DER, "
        "or CONFIGURATION_PUBLIC_KEY_FILE)",
    )
    p.add_argument("--sig", help="detached signature (ed25519-jcs; default CONFIG.sig)")
    p.add_argument("--secrets-dir", help=SECRETS_DIR_HELP)
    add_json_flag(p)
    p.set_defaults(func=_verify)

    p = sub.add_parser(
        "check",
        help="schema check only (every problem, with its JSON path)",
        description="Validate CONFIG against the schema without checking its signature "
        "(docs/config.md). Exit 2 and one line per problem if invalid.",
    )
    p.add_argument("config", metavar="CONFIG")
    p.add_argument("--secrets-dir", help=SECRETS_DIR_HELP)
    add_json_flag(p)
    p.set_defaults(func=_check)

    p = sub.add_parser("schema", help="print the configuration reference (Markdown)")
    p.set_defaults(func=_schema)


def _summary(cfg: object) -> dict[str, object]:
    from sealfeed.config.model import ApplianceConfig

    assert isinstance(cfg, ApplianceConfig)
    return {
        "nodes": cfg.nodes.total,
        "bootstrap": list(cfg.nodes.bootstrap),
        "chain_id": cfg.chain.chain_id,
        "enabled_sources": sorted(n for n, s in cfg.aggregator.sources.items() if s.enabled),
        "feeds": [f.name for f in cfg.chainlink.feeds],
    }


def _keygen(args: argparse.Namespace) -> ExitCode:
    from pathlib import Path

    from sealfeed.config import signing
    from sealfeed.errors import InputError
    from sealfeed.fsutil import atomic_write
    from sealfeed.output import emit

    priv_path, pub_path = Path(args.out + ".pem"), Path(args.out + ".pub")
    if priv_path.exists() and not args.force:
        raise InputError("private key exists; refusing to overwrite (use --force)",
                         location=str(priv_path))  # fmt: skip
    key = signing.generate_key(signing.Scheme(args.scheme))
    atomic_write(priv_path, signing.private_key_pem(key), mode=0o600)
    pub = key.public()
    atomic_write(pub_path, signing.public_key_pem(pub), mode=0o644)
    doc = {
        "scheme": pub.scheme.value,
        "private_key": str(priv_path),
        "public_key": str(pub_path),
        "fingerprint": pub.fingerprint,
        "key_id": pub.key_id,
        "configuration_public_key": pub.base64_der,
    }
    emit(
        args,
        doc,
        f"wrote {priv_path} (private, mode 0600) and {pub_path}\n"
        f"scheme:      {pub.scheme.value}\nfingerprint: {pub.fingerprint}\n"
        f"CONFIGURATION_PUBLIC_KEY={pub.base64_der}",
    )
    return ExitCode.OK


def _sign(args: argparse.Namespace) -> ExitCode:
    import json
    from pathlib import Path

    from sealfeed.config import loader, signing
    from sealfeed.config.schema import parse_solution
    from sealfeed.errors import InputError
    from sealfeed.fsutil import atomic_write
    from sealfeed.output import emit

    key_path = Path(args.key)
    try:
        key = signing.load_private_key(key_path.read_bytes(), location=str(key_path))
    except OSError as exc:
        raise InputError(f"cannot read key: {exc.strerror}", location=str(key_path)) from None
    doc = loader.read_config_document(args.config)
    if not args.no_check:
        parse_solution(
            {k: v for k, v in doc.solution.items() if k not in {"signature", "sealfeedSignature"}},
            lambda ref, path: _placeholder_secret(),
            location=str(doc.path),
        )
    result: dict[str, object] = {"config": str(doc.path), "scheme": key.scheme.value,
                                 "fingerprint": key.public().fingerprint}  # fmt: skip
    if key.scheme is signing.Scheme.REFERENCE:
        solution = signing.payload_without_signature(doc.solution)
        solution["signature"] = signing.sign_reference(solution, key)
        out_doc = {"solution": solution} if doc.wrapped else solution
        target = Path(args.out) if args.out else doc.path
        atomic_write(target, json.dumps(out_doc, indent=2, ensure_ascii=False) + "\n")
        result.update(written=str(target), digest=signing.reference_digest(solution))
    elif args.embed:
        solution = signing.modern_payload(doc.solution)
        sig_doc = signing.sign_modern(solution, key)
        solution[signing.EMBEDDED_SIGNATURE_KEY] = sig_doc
        out_doc = {"solution": solution} if doc.wrapped else solution
        target = Path(args.out) if args.out else doc.path
        atomic_write(target, json.dumps(out_doc, indent=2, ensure_ascii=False) + "\n")
        result.update(written=str(target), digest=sig_doc["digest"], key_id=sig_doc["keyId"])
    else:
        if args.out:
            atomic_write(args.out, doc.path.read_bytes())
        base = Path(args.out) if args.out else doc.path
        sig_doc = signing.sign_modern(doc.solution, key)
        sig_path = Path(args.sig_out) if args.sig_out else loader.default_signature_path(base)
        atomic_write(sig_path, signing.signature_document_text(sig_doc))
        result.update(written=str(sig_path), digest=sig_doc["digest"], key_id=sig_doc["keyId"])
    emit(
        args,
        result,
        f"signed {doc.path} ({result['scheme']}) -> {result['written']}\n"
        f"digest:      {result['digest']}\nfingerprint: {result['fingerprint']}",
    )
    return ExitCode.OK


def _placeholder_secret() -> Secret:
    return Secret("<secret file resolved at load time>")


def _verify(args: argparse.Namespace) -> ExitCode:
    from sealfeed.config import loader
    from sealfeed.output import emit

    trust = loader.trust_from_args(args.pubkey, os.environ)
    verified = loader.load_and_verify(
        args.config,
        trust,
        secrets_dir=args.secrets_dir,
        sig_path=args.sig,
        read_secrets=args.secrets_dir is not None,
    )
    cfg, sig = verified.config, verified.signature
    result = {
        "ok": True,
        "config": args.config,
        "scheme": sig.scheme.value,
        "digest": sig.digest,
        "key_fingerprint": sig.key_fingerprint,
        "key_id": sig.key_id,
        "trusted_key_from": trust.source,
        "summary": _summary(cfg),
    }
    emit(
        args,
        result,
        f"OK: {args.config} is signed by the trusted key and valid\n"
        f"scheme:      {sig.scheme.value}\ndigest:      {sig.digest}\n"
        f"fingerprint: {sig.key_fingerprint} (from {trust.source})",
    )
    return ExitCode.OK


def _check(args: argparse.Namespace) -> ExitCode:
    from sealfeed.config import loader
    from sealfeed.output import emit

    cfg = loader.load_config_unverified(
        args.config, secrets_dir=args.secrets_dir, read_secrets=args.secrets_dir is not None
    )
    summary = _summary(cfg)
    emit(
        args,
        {"ok": True, "config": args.config, "summary": summary},
        f"OK: {args.config} matches the schema (signature NOT checked; use `config verify`)\n"
        + "\n".join(f"{k}: {v}" for k, v in summary.items()),
    )
    return ExitCode.OK


def _schema(args: argparse.Namespace) -> ExitCode:
    import sys

    from sealfeed.config.docs import render_markdown

    sys.stdout.write(render_markdown())
    return ExitCode.OK
