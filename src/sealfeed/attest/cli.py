"""``sealfeed attest ...``: verify-quote (and the same behaviour as ``attest/verify``),
parse, replay, quote, startup. Heavy imports happen inside the handlers (style-anchors.md §12)."""

from __future__ import annotations

import argparse
from typing import Any

from sealfeed.errors import ExitCode, InputError
from sealfeed.output import add_json_flag

_STATUSES = (
    "UpToDate",
    "SWHardeningNeeded",
    "ConfigurationNeeded",
    "ConfigurationAndSWHardeningNeeded",
    "OutOfDate",
    "OutOfDateConfigurationNeeded",
)


#: (flag, byte length, allow-list?, what) -> Policy field named after the flag
_POLICY_FLAGS = (
    ("--mrtd", 48, True, "MRTD"),
    ("--rtmr0", 48, True, "RTMR0"),
    ("--rtmr1", 48, True, "RTMR1"),
    ("--rtmr2", 48, True, "RTMR2"),
    ("--rtmr3", 48, True, "RTMR3"),
    ("--mr-seam", 48, True, "MRSEAM (TDX module)"),
    ("--xfam", 8, True, "XFAM"),
    ("--td-attributes", 8, False, "TD attributes"),
    ("--mr-config-id", 48, False, "MRCONFIGID"),
    ("--mr-owner", 48, False, "MROWNER"),
    ("--mr-owner-config", 48, False, "MROWNERCONFIG"),
    ("--sp-measurement", 32, True, "Super Protocol measurement SHA-256(attrs||mrtd||rtmr0..3)"),
)


def _flag_field(flag: str) -> str:
    return "mr_td" if flag == "--mrtd" else flag[2:].replace("-", "_")


def add_verify_arguments(p: argparse.ArgumentParser) -> None:
    """The verify-quote flags (shared with the standalone ``attest/verify``)."""
    p.add_argument("quote", metavar="QUOTE", help="quote file: raw binary or hex text")
    src = p.add_argument_group("collateral (one of)")
    src.add_argument(
        "--collateral",
        metavar="FILE|DIR",
        help="collateral JSON (dcap-qvl QuoteCollateralV3 shape) or a cache directory "
        "of <tee>-<FMSPC>-<ca>.json files",
    )
    src.add_argument(
        "--pccs",
        metavar="URL",
        help="fetch collateral from this Intel PCS/PCCS base URL "
        "(e.g. https://api.trustedservices.intel.com)",
    )
    p.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="with --pccs: on-disk collateral cache, reused until the earliest nextUpdate",
    )
    p.add_argument(
        "--root-crl-url",
        metavar="URL",
        help="with --pccs: where to get the Intel root CA CRL (default: <pccs>/sgx/"
        "certification/v4/rootcacrl)",
    )
    p.add_argument(
        "--at",
        metavar="TIME",
        help="verification time: ISO-8601 (2025-07-01T00:00:00Z), Unix seconds, or "
        "'collateral' (the latest issue date inside the collateral; for archived "
        "samples). Default: now",
    )
    p.add_argument(
        "--root-ca-fingerprint",
        metavar="SHA256",
        action="append",
        help="pinned root CA SHA-256 fingerprint (repeatable; default: Intel SGX Root CA)",
    )
    pol = p.add_argument_group("policy (flags override the --policy file field by field)")
    pol.add_argument("--policy", metavar="FILE", help="policy JSON (attest/policy*.json)")
    pol.add_argument(
        "--allow-status",
        metavar="STATUS",
        action="append",
        choices=_STATUSES,
        help="also accept this TCB status (repeatable; default: UpToDate only)",
    )
    pol.add_argument(
        "--report-data", metavar="HEX", help="expected report_data, 64 bytes; unchecked if unset"
    )
    pol.add_argument(
        "--user-data",
        metavar="FILE",
        help="require report_data[0:32] == SHA-256(FILE contents) (Super Protocol binding)",
    )
    for flag, size, many, what in _POLICY_FLAGS:
        pol.add_argument(
            flag,
            metavar="HEX",
            action="append" if many else "store",
            help=f"{'allowed' if many else 'expected'} {what}, {size} bytes"
            f"{' (repeatable)' if many else ''}; unchecked if unset",
        )
    pol.add_argument(
        "--forbid-trailing-bytes",
        action="store_true",
        help="reject a quote followed by bytes other than zero padding (policy "
        "allow_trailing_bytes: false); by default they are accepted and reported as "
        "unauthenticated, as go-tdx-guest and dcap-qvl ignore them",
    )
    pol.add_argument(
        "--dangerous-allow-debug",
        action="store_true",
        help="accept a debug TD/enclave (never for production)",
    )
    ev = p.add_argument_group("event log")
    ev.add_argument(
        "--event-log",
        metavar="FILE",
        help="TCG crypto-agile event log (the CCEL log area); replayed to RTMR0-3 and "
        "compared with the quote",
    )
    ev.add_argument("--ccel", metavar="FILE", help="ACPI CCEL table (checked, shown)")
    ev.add_argument("--events", action="store_true", help="list every event")
    add_json_flag(p)


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="attest_command", metavar="SUBCOMMAND")
    v = sub.add_parser(
        "verify-quote",
        help="verify a DCAP quote (signatures, chain, CRLs, TCB) and apply a policy",
        description="Verify an Intel SGX/TDX DCAP quote as Intel's QVL does, then apply "
        "a policy. Exit 0 accepted, 1 rejected, 2 bad input, 3 collateral unavailable.",
    )
    add_verify_arguments(v)
    v.set_defaults(func=cmd_verify_quote)

    ps = sub.add_parser("parse", help="parse a quote and print its fields (no verification)")
    ps.add_argument("quote", metavar="QUOTE")
    add_json_flag(ps)
    ps.set_defaults(func=cmd_parse)

    rp = sub.add_parser(
        "replay",
        help="replay a CCEL event log to RTMR0-3 (optionally compare with a quote)",
    )
    rp.add_argument("event_log", metavar="EVENT_LOG")
    rp.add_argument("--ccel", metavar="FILE", help="ACPI CCEL table")
    rp.add_argument("--quote", metavar="FILE", help="compare with this quote's RTMRs")
    rp.add_argument("--events", action="store_true", help="list every event")
    add_json_flag(rp)
    rp.set_defaults(func=cmd_replay)

    q = sub.add_parser(
        "quote",
        help="inside a TDX guest: get a quote over report data (configfs-tsm)",
        description="Ask the TDX module for a quote through Linux configfs-tsm. The report "
        "data is given as hex, or is the sealfeed binding of an image digest and a "
        "configuration document (what `sealfeed verify --quote` expects). The binding is "
        "only computed over a configuration whose signature verified: --bind-config needs "
        "the owner's key (--pubkey, or env CONFIGURATION_PUBLIC_KEY / "
        "CONFIGURATION_PUBLIC_KEY_FILE), and the hash is taken from the very bytes whose "
        "signature was checked.",
    )
    rd = q.add_mutually_exclusive_group(required=True)
    rd.add_argument("--report-data", metavar="HEX", help="up to 64 bytes, hex")
    rd.add_argument(
        "--bind-image", metavar="SHA256", help="image archive sha256 to bind (with --bind-config)"
    )
    q.add_argument(
        "--bind-config",
        metavar="CONFIG",
        help="... with this signed configuration document (verified first: needs --pubkey)",
    )
    q.add_argument(
        "--pubkey",
        metavar="FILE",
        help="with --bind-config: the owner's public key the configuration must verify with "
        "(default: env CONFIGURATION_PUBLIC_KEY = base64 SPKI DER, or "
        "CONFIGURATION_PUBLIC_KEY_FILE)",
    )
    q.add_argument("--out", required=True, help="write the raw quote here")
    q.add_argument(
        "--tsm-root", default=None, help="configfs-tsm report dir (default: the kernel's)"
    )
    add_json_flag(q)
    q.set_defaults(func=cmd_quote)

    from sealfeed.attest.startup_cli import register_startup

    register_startup(sub)


def cmd_quote(args: argparse.Namespace) -> ExitCode:
    import hashlib
    import os

    from sealfeed.attest.binding import appliance_report_data
    from sealfeed.attest.tsm import TSM_REPORT_ROOT, request_quote
    from sealfeed.fsutil import atomic_write
    from sealfeed.output import emit

    bound: dict[str, Any] = {}
    if args.report_data is not None:
        if args.bind_config or args.pubkey:
            raise InputError("--bind-config/--pubkey go with --bind-image, not --report-data")
        try:
            report_data = bytes.fromhex(args.report_data)
        except ValueError:
            raise InputError("not hex", location="--report-data") from None
    else:
        from sealfeed.config.loader import load_and_verify, trust_from_args

        if not args.bind_config:
            raise InputError("--bind-image needs --bind-config", location="--bind-config")
        image = args.bind_image.lower().removeprefix("sha256:")
        if len(image) != 64 or any(c not in "0123456789abcdef" for c in image):
            raise InputError("must be a sha256 hex digest", location="--bind-image")
        trust = trust_from_args(args.pubkey, os.environ)
        verified = load_and_verify(args.bind_config, trust, read_secrets=False)
        report_data = appliance_report_data(image, verified.config_hash)
        bound = {
            "image_sha256": image,
            "config_hash": verified.config_hash,
            "config_signed_by": verified.signature.key_fingerprint,
        }
    quote = request_quote(report_data, root=args.tsm_root or TSM_REPORT_ROOT)
    atomic_write(args.out, quote)
    emit(
        args,
        {"out": args.out, "size": len(quote), "report_data": report_data.hex(),
         "sha256": hashlib.sha256(quote).hexdigest(), **({"binding": bound} if bound else {})},
        f"wrote {args.out} ({len(quote)} bytes), report_data {report_data[:32].hex()}...",
    )  # fmt: skip
    return ExitCode.OK


# --- helpers -------------------------------------------------------------------------------


def _read(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise InputError(f"{what} file not found", location=path) from None
    except OSError as exc:
        raise InputError(f"cannot read {what}: {exc.strerror}", location=path) from None


def _collateral_source(args: argparse.Namespace) -> Any:
    from sealfeed.attest.collateral import CollateralSource

    return CollateralSource.from_flags(
        args.collateral, args.pccs, cache_dir=args.cache_dir, root_crl_url=args.root_crl_url
    )


def _policy_from_args(args: argparse.Namespace) -> tuple[Any, str]:
    import dataclasses

    from sealfeed.attest.policy import Policy, load_policy

    policy = load_policy(args.policy) if args.policy else Policy()
    source = args.policy or "default (UpToDate only, no debug)"
    changes: dict[str, Any] = {}
    if args.allow_status:
        changes["accepted_tcb_statuses"] = policy.accepted_tcb_statuses | frozenset(
            args.allow_status
        )
    d: dict[str, Any] = {}
    if args.report_data:
        d["report_data"] = args.report_data
    for flag, _size, _many, _what in _POLICY_FLAGS:
        value = getattr(args, flag[2:].replace("-", "_"))
        if value:
            d[_flag_field(flag)] = value
    if d:
        parsed = Policy.from_dict(d, "flags")
        changes.update({k: getattr(parsed, k) for k in d})
    if args.user_data:
        changes["report_data_sha256_of"] = _read(args.user_data, "user data")
    if args.dangerous_allow_debug:
        changes["dangerous_allow_debug"] = True
    if args.forbid_trailing_bytes:
        changes["allow_trailing_bytes"] = False
    if changes:
        policy = dataclasses.replace(policy, **changes)
        source += " + flags"
    return policy, source


def _replay(args: argparse.Namespace, td: Any) -> dict[str, Any]:
    from sealfeed.attest.eventlog import (
        describe_event,
        parse_ccel_table,
        parse_event_log,
        replay_rtmrs,
    )

    out: dict[str, Any] = {}
    if args.ccel:
        t = parse_ccel_table(_read(args.ccel, "CCEL table"))
        out["ccel"] = {
            "checksum_ok": t.checksum_ok,
            "cc_type": t.cc_type,
            "oem_id": t.oem_id.decode("ascii", "replace"),
            "log_area_minimum_length": t.log_area_minimum_length,
            "log_area_start_address": f"0x{t.log_area_start_address:x}",
        }
        if not t.checksum_ok:
            raise InputError("CCEL table checksum is wrong", location=args.ccel)
    log = parse_event_log(_read(args.event_log, "event log"))
    regs = replay_rtmrs(log)
    out["event_count"] = len(log.events)
    out["replayed"] = {f"rtmr{i}": r.hex() for i, r in enumerate(regs)}
    if td is not None:
        out["match"] = {f"rtmr{i}": regs[i] == td.rtmrs[i] for i in range(4)}
    if args.events:
        out["events"] = [
            {
                "offset": e.offset,
                "index": e.index,
                "rtmr": e.rtmr,
                "type": e.type_name,
                "sha384": (e.digest() or b"").hex(),
                "data_size": len(e.data),
            }
            for e in log.events
        ]
        out["_lines"] = [describe_event(e) for e in log.events]
    return out


# --- handlers ----------------------------------------------------------------------------


def cmd_verify_quote(args: argparse.Namespace) -> ExitCode:
    import json
    import sys

    from sealfeed.attest.collateral import collateral_issue_time, obtain_collateral
    from sealfeed.attest.files import read_quote_file
    from sealfeed.attest.policy import PolicyError, evaluate_policy
    from sealfeed.attest.quote import parse_quote
    from sealfeed.attest.trust import INTEL_SGX_ROOT_CA_SHA256
    from sealfeed.attest.verify import QuoteVerificationError, verify_quote
    from sealfeed.errors import VerificationError
    from sealfeed.timearg import parse_at

    source = _collateral_source(args)
    raw = read_quote_file(args.quote)
    quote = parse_quote(raw)
    policy, policy_source = _policy_from_args(args)
    at_collateral = (args.at or "").strip().lower() == "collateral"
    now = (
        None
        if at_collateral
        else parse_at(args.at, accepted="ISO-8601, Unix seconds or 'collateral'")
    )
    coll, coll_source = obtain_collateral(source, quote, now)
    if now is None:
        now = collateral_issue_time(coll)
    roots = args.root_ca_fingerprint or [INTEL_SGX_ROOT_CA_SHA256]
    doc: dict[str, Any] = {
        "quote": args.quote,
        "quote_version": quote.header.version,
        "quote_size": quote.size,
        "padding": len(raw) - quote.size,
        "trailing_bytes": quote.trailing_json(),
        "collateral_source": coll_source,
        "verified_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "policy_source": policy_source,
    }
    failure: VerificationError | None = None
    report = None
    try:
        report = verify_quote(quote, coll, now=now, trust_roots=roots)
        doc.update(report.to_json())
    except QuoteVerificationError as exc:
        failure = exc
        doc.update(
            {
                "tee": quote.tee,
                "body": quote.report.fields(),
                "tcb_status": exc.status.value if exc.status else None,
                "checks": [c.to_json() for c in exc.checks],
            }
        )
    if report is not None:
        try:
            doc["policy_checks"] = evaluate_policy(report, policy)
        except PolicyError as exc:
            failure = exc
            doc["policy_mismatches"] = [
                {"field": f, "got": g, "expected": e} for f, g, e in exc.mismatches
            ]
    if args.event_log:
        td = quote.td_report
        if td is None:
            raise InputError("--event-log applies to TDX quotes only")
        ev = _replay(args, td)
        lines = ev.pop("_lines", None)
        doc["event_log"] = ev
        if not all(ev["match"].values()) and failure is None:
            bad = [k for k, ok in ev["match"].items() if not ok]
            failure = VerificationError(
                f"event log replay does not match {', '.join(bad)}", location="event_log"
            )
        if lines is not None:
            doc["_event_lines"] = lines
    elif args.events or args.ccel:
        raise InputError("--events/--ccel need --event-log FILE")
    ok = failure is None
    doc["verdict"] = "accepted" if ok else "rejected"
    if failure is not None:
        doc["error"] = {"message": failure.message, "location": failure.location}
    event_lines = doc.pop("_event_lines", None)
    if args.json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        sys.stdout.write(_human(doc, event_lines))
    return ExitCode.OK if ok else ExitCode.FAILED


def _human(doc: dict[str, Any], event_lines: list[str] | None) -> str:
    out: list[str] = []
    body = doc.get("body", {})
    tail = doc.get("trailing_bytes") or {}
    if not tail.get("count"):
        pad = ""
    elif tail.get("zero_padding"):
        pad = f" + {tail['count']} zero padding"
    else:
        pad = f" + {tail['count']} trailing bytes, UNAUTHENTICATED (not covered by any signature)"
    ver = f"v{doc['quote_version']} "
    out.append(
        f"quote       {doc['quote']} ({doc.get('tee')} quote {ver}{doc['quote_size']} bytes{pad})"
    )
    out.append(f"collateral  {doc['collateral_source']}")
    out.append(f"time        {doc['verified_at']}")
    if "fmspc" in doc:
        out.append(f"platform    FMSPC {doc['fmspc']}, PCK CA {doc['pck_ca']}, PPID {doc['ppid']}")
    if doc.get("tcb_status"):
        adv = ", ".join(doc.get("advisory_ids") or []) or "none"
        parts = []
        for key, label in (
            ("platform_status", "platform"),
            ("qe_status", "QE"),
            ("tdx_module_status", "TDX module"),
        ):
            if doc.get(key):
                parts.append(f"{label} {doc[key]['status']}")
        extra = f" ({', '.join(parts)})" if parts else ""
        out.append(f"TCB status  {doc['tcb_status']}{extra}; advisories: {adv}")
    for k in (
        "mr_td",
        "rtmr0",
        "rtmr1",
        "rtmr2",
        "rtmr3",
        "mr_enclave",
        "mr_signer",
        "td_attributes",
        "report_data",
    ):
        if k in body:
            out.append(f"  {k:13} {body[k]}")
    out.append("checks")
    for c in doc.get("checks", []):
        out.append(f"  [{'ok' if c['ok'] else 'FAIL'}] {c['step']:>2} {c['name']}: {c['detail']}")
    if "policy_checks" in doc:
        out.append(f"policy      {doc['policy_source']}: ok ({', '.join(doc['policy_checks'])})")
    for m in doc.get("policy_mismatches", []):
        out.append(f"  [FAIL] policy {m['field']}: got {m['got']}, expected {m['expected']}")
    if "event_log" in doc:
        ev = doc["event_log"]
        out.append(f"event log   {ev['event_count']} events replayed with SHA-384")
        for k, v in ev["replayed"].items():
            out.append(f"  [{'ok' if ev['match'][k] else 'FAIL'}] {k} {v}")
        for line in event_lines or []:
            out.append(f"    {line}")
    if doc["verdict"] == "accepted":
        out.append("VERDICT     ACCEPTED")
    else:
        err = doc.get("error", {})
        out.append(f"VERDICT     REJECTED: {err.get('location')}: {err.get('message')}")
        if any(
            c.get("name", "").endswith("_validity") and not c["ok"] for c in doc.get("checks", [])
        ):
            out.append(
                "hint        the collateral is not valid at this time; for archived samples "
                "verify historically with --at collateral (or --at <ISO time>)"
            )
    return "\n".join(out) + "\n"


def cmd_parse(args: argparse.Namespace) -> ExitCode:
    from sealfeed.attest.files import read_quote_file
    from sealfeed.attest.quote import parse_quote
    from sealfeed.output import emit

    raw = read_quote_file(args.quote)
    q = parse_quote(raw)
    h = q.header
    doc: dict[str, Any] = {
        "tee": q.tee,
        "version": h.version,
        "size": q.size,
        "padding": len(raw) - q.size,
        "trailing_bytes": q.trailing_json(),
        "body_type": q.body_type,
        "body": q.report.fields(),
    }
    tail = "" if q.trailing_is_zero_padding else (
        f" + {len(q.trailing)} UNAUTHENTICATED trailing bytes"
    )  # fmt: skip
    emit(
        args,
        doc,
        lambda: "\n".join(
            [f"{q.tee} quote v{h.version}, {q.size} bytes{tail}"]
            + [f"  {k:16} {v}" for k, v in doc["body"].items()]
        ),
    )
    return ExitCode.OK


def cmd_replay(args: argparse.Namespace) -> ExitCode:
    from sealfeed.attest.files import read_quote_file
    from sealfeed.attest.quote import parse_quote
    from sealfeed.errors import VerificationError
    from sealfeed.output import emit

    td = None
    if args.quote:
        td = parse_quote(read_quote_file(args.quote)).td_report
        if td is None:
            raise InputError("not a TDX quote", location=args.quote)
    doc = _replay(args, td)
    lines = doc.pop("_lines", None)

    def human() -> str:
        out = [f"{doc['event_count']} events"]
        for k, v in doc["replayed"].items():
            mark = "" if "match" not in doc else ("  == quote" if doc["match"][k] else "  != quote")
            out.append(f"  {k} {v}{mark}")
        out.extend(f"    {line}" for line in lines or [])
        return "\n".join(out)

    emit(args, doc, human)
    if "match" in doc and not all(doc["match"].values()):
        raise VerificationError("replayed RTMRs do not match the quote", location="event_log")
    return ExitCode.OK
