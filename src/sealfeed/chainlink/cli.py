"""``sealfeed chainlink render | keys | publish | oracle-set``.

Each subcommand loads the verified configuration and calls one library function; work is
imported inside the handlers (style-anchors §12).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from sealfeed.errors import ExitCode, InputError
from sealfeed.output import add_json_flag, emit


def _node_database_url(cfg: Any, node: Any) -> Any:
    """The node's own DB role over the unix socket, password from its 0600 secret file."""
    from sealfeed.postgres import node_database_url, node_password_path
    from sealfeed.secret import read_secret_file

    pw = read_secret_file(node_password_path(cfg.secrets_dir, node), what="postgres password")
    return node_database_url(cfg.postgres, node, pw)


def _scrypt_params(args: argparse.Namespace) -> Any:
    from sealfeed.chainlink.keystore import STANDARD_SCRYPT_N, ScryptParams

    n = args.scrypt_n or STANDARD_SCRYPT_N
    if n < 2 or n & (n - 1):
        raise InputError("must be a power of two >= 2", location="--scrypt-n")
    return ScryptParams(n=n)


def _selected(cfg: Any, wanted: list[int] | None) -> list[Any]:
    specs = list(cfg.nodes.specs())
    if not wanted:
        return specs
    unknown = set(wanted) - {s.index for s in specs}
    if unknown:
        raise InputError(f"no such node(s): {sorted(unknown)}", location="--node")
    return [s for s in specs if s.index in wanted]


def _ensure_keys(
    cfg: Any, nodes: list[Any], args: argparse.Namespace, *, verify: bool
) -> dict[int, Any]:
    """Generate/verify per node in parallel: scrypt at N=2^18 costs ~2 s per key file and
    OpenSSL's scrypt releases the GIL, so threads use every core (ADR 0072)."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    from sealfeed.chainlink.keys import ensure_node_keys, kinds_for

    params = _scrypt_params(args)
    kinds = kinds_for(f.ocr_version for f in cfg.chainlink.feeds)

    def one(node: Any) -> Any:
        return ensure_node_keys(
            cfg.secrets_dir,
            node.index,
            cfg.chainlink.keystore_password,
            params=params,
            verify=verify,
            kinds=kinds,
        )

    with ThreadPoolExecutor(max_workers=max(1, min(len(nodes), os.cpu_count() or 1))) as pool:
        return dict(zip([n.index for n in nodes], pool.map(one, nodes), strict=True))


def cmd_render(args: argparse.Namespace) -> ExitCode:
    from pathlib import Path

    from sealfeed.chainlink.jobs import desired_jobs
    from sealfeed.chainlink.render import (
        bootstrappers,
        p2p_addresses,
        render_node_files,
        write_node_files,
    )
    from sealfeed.config.args import verified_config

    cfg = verified_config(args)
    nodes = _selected(cfg, args.node)
    keys = _ensure_keys(cfg, list(cfg.nodes.specs()), args, verify=False)
    public = {i: k for i, (k, _) in keys.items()}
    remote = _remote_peer_ids(cfg, args, public, wait=True)
    peers = bootstrappers(cfg, {**remote, **{i: k.peer_id for i, k in public.items()}})
    # the same specs publish sends (validated feeds; none configured = no job files)
    jobs = desired_jobs(cfg, bootstrappers=peers, keys=public) if cfg.chainlink.feeds else {}
    results = []
    for node in nodes:
        files = render_node_files(
            cfg,
            node,
            p2p=p2p_addresses(cfg, node, peers),
            database_url=_node_database_url(cfg, node),
            jobs=jobs.get(node.index, ()),
        )
        directory = Path(args.out) / f"node-{node.index}" if args.out else Path(node.workdir)
        written = write_node_files(files, directory, owner=None if args.no_chown else node.os_user)
        results.append(
            {
                "node": node.index,
                "role": node.role,
                "dir": str(directory),
                "files": [str(p.relative_to(directory)) for p in written],
                "keys_created": keys[node.index][1],
            }
        )
    doc = {"ok": True, "nodes": results}
    emit(
        args,
        doc,
        lambda: "\n".join(
            f"node {r['node']} ({r['role']}): {r['dir']} <- {', '.join(r['files'])}"
            + (f"; new keys: {', '.join(r['keys_created'])}" if r["keys_created"] else "")
            for r in results
        ),
    )
    return ExitCode.OK


def _remote_peer_ids(
    cfg: Any, args: argparse.Namespace, public: dict[int, Any], *, wait: bool
) -> dict[int, str]:
    """One VM of several (sealfeed.placement): publish this VM's node public keys for the
    link to serve to verified peers, and take the peer ids of the other VMs' bootstrap
    nodes from what the link fetched from them (ADR 0143); ``wait`` until they are there."""
    from sealfeed.config.placement import is_multi_vm

    if not is_multi_vm(cfg) or cfg.vm is None:
        return {}
    from sealfeed.chainlink.peers import publish_node_keys, remote_peer_ids
    from sealfeed.chainlink.render import bootstrap_nodes

    link_dir = args.link_dir
    if wait:
        path = publish_node_keys(cfg, public, link_dir)
        sys.stderr.write(f"sealfeed chainlink: published node keys of {cfg.vm} to {path}\n")

    def progress(line: str) -> None:
        sys.stderr.write(f"sealfeed chainlink: {line}\n")
        sys.stderr.flush()

    return remote_peer_ids(
        cfg,
        link_dir,
        nodes=[n.index for n in bootstrap_nodes(cfg)],
        wait_seconds=args.wait_seconds if wait else 0,
        progress=progress if wait else None,
    )


def cmd_keys(args: argparse.Namespace) -> ExitCode:
    from sealfeed.config.args import verified_config

    cfg = verified_config(args)
    nodes = _selected(cfg, args.node)
    keys = _ensure_keys(cfg, nodes, args, verify=not args.no_verify)
    rows = []
    for node in nodes:
        pub, created = keys[node.index]
        rows.append({**pub.to_dict(), "role": node.role, "created": created})

    def human() -> str:
        lines = []
        for r in rows:
            lines.append(
                f"node {r['node']} ({r['role']})"
                + (f" [new: {', '.join(r['created'])}]" if r["created"] else "")
            )
            lines.append(f"  evm address          {r['evm_address']}")
            lines.append(f"  p2p peer id          {r['peer_id']}")
            lines.append(f"  ocr2 bundle id       {r['ocr2_bundle_id']}")
            lines.append(f"  ocr2 on-chain signer {r['ocr2_onchain_address']}")
            lines.append(f"  ocr2 off-chain key   {r['ocr2_offchain_public_key']}")
            lines.append(f"  ocr2 config key      {r['ocr2_config_public_key']}")
            if r["ocr1_bundle_id"]:
                lines.append(f"  ocr1 bundle id       {r['ocr1_bundle_id']}")
                lines.append(f"  ocr1 on-chain signer {r['ocr1_onchain_signing_address']}")
                lines.append(f"  ocr1 off-chain key   {r['ocr1_offchain_public_key']}")
                lines.append(f"  ocr1 config key      {r['ocr1_config_public_key']}")
        return "\n".join(lines)

    emit(args, {"ok": True, "nodes": rows}, human)
    return ExitCode.OK


def cmd_publish(args: argparse.Namespace) -> ExitCode:
    from sealfeed.chainlink.client import RetryPolicy
    from sealfeed.chainlink.publish import default_client_factory, publish
    from sealfeed.config.args import verified_config

    cfg = verified_config(args)
    if args.max_wait <= 0:
        raise InputError("must be positive", location="--max-wait")
    factory = default_client_factory(cfg, retry=RetryPolicy(deadline_s=args.max_wait))
    remote = _remote_peer_ids(cfg, args, {}, wait=False)
    report = publish(
        cfg, factory, prune=args.prune, only_nodes=args.node or (), remote_peer_ids=remote
    )
    emit(args, report.to_dict(), report.table)
    return ExitCode.EXTERNAL if report.failed_nodes else ExitCode.OK


def cmd_oracle_set(args: argparse.Namespace) -> ExitCode:
    from dataclasses import replace

    from sealfeed.chainlink.keys import load_public_keys
    from sealfeed.chainlink.ocr1_config import OCR1Params, parse_duration
    from sealfeed.chainlink.oracle_set import oracle_set
    from sealfeed.config.args import verified_config
    from sealfeed.config.placement import require_vm

    cfg = verified_config(args)
    params = OCR1Params()
    if args.delta_c is not None:
        params = replace(params, delta_c=parse_duration(args.delta_c, location="--delta-c"))
    if args.alpha_ppb is not None:
        params = replace(params, alpha_ppb=args.alpha_ppb)
    if args.wait_seconds < 0:
        raise InputError("must be >= 0", location="--wait-seconds")
    # the whole DON's configuration read outside any VM has none of the nodes' keys
    require_vm(cfg, cfg.vm)
    keys = {n.index: load_public_keys(cfg.secrets_dir, n.index) for n in cfg.nodes.specs()}
    sources = _peer_oracle_keys(cfg, args, keys)
    doc = oracle_set(cfg, keys, ocr1=params, sources=sources)
    # The document *is* the result: JSON with or without --json.
    sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    return ExitCode.OK


def _peer_oracle_keys(cfg: Any, args: argparse.Namespace, keys: dict[int, Any]) -> dict[int, str]:
    """One VM of several: add the other VMs' oracle keys to ``keys`` from the node-keys
    documents the link fetched from them (ADR 0147); returns node -> document path."""
    from sealfeed.config.placement import is_multi_vm, remote_nodes

    if not is_multi_vm(cfg):
        return {}
    from sealfeed.chainlink.oracle_set import don_oracles
    from sealfeed.chainlink.peers import fetched_path, remote_keys

    where = remote_nodes(cfg)
    wanted = [n.index for n in don_oracles(cfg) if n.index in where]

    def progress(line: str) -> None:
        sys.stderr.write(f"sealfeed chainlink: {line}\n")
        sys.stderr.flush()

    keys.update(
        remote_keys(
            cfg,
            args.link_dir,
            nodes=wanted,
            wait_seconds=args.wait_seconds or 0,
            progress=progress if args.wait_seconds else None,
        )
    )
    return {n: str(fetched_path(args.link_dir, where[n])) for n in wanted}


def register(parser: argparse.ArgumentParser) -> None:
    from sealfeed.config.args import add_config_arguments

    sub = parser.add_subparsers(dest="chainlink_command", metavar="SUBCOMMAND")

    def common(p: argparse.ArgumentParser, *, node: bool = True) -> None:
        add_config_arguments(p, consumer="chainlink")
        add_json_flag(p)
        if node:
            p.add_argument(
                "--node", type=int, action="append", metavar="N", help="only node N (repeatable)"
            )

    def link_dir(p: argparse.ArgumentParser, *, wait: bool) -> None:
        p.add_argument(
            "--link-dir",
            default="/run/sealfeed/link",
            help="one VM of several (sealfeed.placement): the attested link's directory, "
            "where this VM's node keys are published and the peers' are fetched "
            "(default %(default)s)",
        )
        if wait:
            p.add_argument(
                "--wait-seconds",
                type=float,
                default=None,
                help="how long to wait for the other VMs' bootstrap node keys (default: as "
                "long as it takes, with progress on stderr)",
            )

    def scrypt(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--scrypt-n",
            type=int,
            default=None,
            help="scrypt N for newly generated key files (default 262144, go-ethereum "
            "StandardScryptN; lower values are for tests only)",
        )

    p = sub.add_parser(
        "render",
        help="write each node's config.toml, secrets.toml (0600), API credentials and job specs",
        description="Render Chainlink 2.27 config.toml/secrets.toml/apicredentials per node from "
        "the verified configuration, and jobs/<feed>.toml: the exact job specs 'publish' sends "
        "(bootstrap jobs on bootstrap nodes, one OCR1 or OCR2 job per feed on oracle nodes), "
        "to review and diff. Generates missing node keys first.",
    )
    common(p)
    scrypt(p)
    p.add_argument("--out", default=None, help="write to DIR/node-N (default: each node's workdir)")
    p.add_argument("--no-chown", action="store_true", help="do not chown files to the node user")
    link_dir(p, wait=True)
    p.set_defaults(func=cmd_render)

    p = sub.add_parser(
        "keys",
        help="generate missing node keys, reuse existing ones; print public parts only",
        description="Ensure every node has EVM, P2P and OCR2 keys (and an OCR1 bundle when a "
        "feed has ocrVersion 1) in the secrets directory, encrypted with the keystore "
        "password, and print only public parts.",
    )
    common(p)
    scrypt(p)
    p.add_argument(
        "--no-verify", action="store_true", help="skip decrypting existing key files (faster)"
    )
    p.set_defaults(func=cmd_keys)

    p = sub.add_parser(
        "publish",
        help="import keys and create/replace OCR2 jobs on every node (idempotent)",
        description="Log in to each node's API, import its keys, and make its jobs match the "
        "configuration: identical jobs kept, changed ones replaced, others reported "
        "(deleted with --prune). Exit 3 if a node could not be reached.",
    )
    common(p)
    p.add_argument("--prune", action="store_true", help="delete jobs that are not in the config")
    p.add_argument(
        "--max-wait",
        type=float,
        default=180.0,
        metavar="SECONDS",
        help="keep retrying a starting node (connection refused / 5xx) this long (default 180)",
    )
    link_dir(p, wait=False)
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser(
        "oracle-set",
        help="print the setConfig inputs of the feed contracts (JSON)",
        description="Print the oracle set in setConfig order as JSON: for OCR2 feeds the "
        "signers, transmitters, f, peer ids, off-chain and config public keys; for OCR1 feeds "
        "(ocrVersion 1) also, per contract, the threshold, encodedConfigVersion, the encoded "
        "off-chain config with a freshly encrypted shared secret, and ready call data for the "
        "standard OCR1 aggregator and Super Protocol's variant. OCR1 output differs on every "
        "run (a new shared secret each time, as libocr does); send one of them. On one VM of a DON "
        "placed on several VMs (sealfeed.placement) it prints the whole DON's set, ordered by "
        "node index, the same on every VM: its own nodes' keys plus the other VMs' public keys "
        "that the attested link fetched from them (their node-keys documents).",
    )
    common(p, node=False)
    p.add_argument(
        "--link-dir",
        default="/run/sealfeed/link",
        help="one VM of several (sealfeed.placement): the attested link's directory, where "
        "the other VMs' node keys are fetched from the verified peers (default %(default)s)",
    )
    p.add_argument(
        "--wait-seconds",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="one VM of several: wait this long for the other VMs' node keys, with progress "
        "on stderr (default 0: answer now, naming the VMs whose keys are missing, exit 3)",
    )
    p.add_argument(
        "--delta-c",
        metavar="DURATION",
        default=None,
        help="OCR1 deltaC: report at least this often even without deviation (default 1h; "
        "libocr needs >= 10m on chains it does not list, e.g. opBNB)",
    )
    p.add_argument(
        "--alpha-ppb",
        type=int,
        metavar="PPB",
        default=None,
        help="OCR1 alphaPPB: report when the median moves this many parts per billion "
        "(default 5000000 = 0.5%%)",
    )
    p.set_defaults(func=cmd_oracle_set)


__all__ = ["register"]
