"""What Chainlink 2.27 itself checks, re-implemented as test helpers (independent of sealfeed).

* :func:`schema_types` / :func:`schema_problems`: every key path of a rendered document must
  exist in Chainlink's documented schema files (``../shared/chainlink-2.27``: core.toml,
  chains-evm.toml, secrets.toml) with the same TOML type.
* :func:`node_config_problems`: the start-up checks of ``EVMConfig.ValidateConfig``,
  ``GasEstimator.ValidateConfig`` (chainlink-evm ``pkg/config/toml/config.go``) on the
  *effective* chain config (documented defaults <- chain defaults <- rendered block) and
  ``ocrcommon.ValidatePeerWrapperConfig``.
* :func:`job_problems`: ``job.ValidateSpec`` (core/services/job/validate.go), the OCR1
  (core/services/ocr/validate.go), OCR2 (core/services/ocr2/validate/validate.go) and
  bootstrap (core/services/ocrbootstrap/validate.go) validators, the job ORM's key checks,
  jobs_controller.go's feature switches, the pipeline parse (core/services/pipeline/graph.go)
  and libocr's ``SanityCheckLocalConfig`` (OCR1 and OCR2) on the local config the job gets.

Each returns a list of problems (empty = Chainlink would accept it), so a test can also prove
that a broken document is caught.
"""

from __future__ import annotations

import itertools
import re
import tomllib
from collections.abc import Mapping, Sequence
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "chainlink-2.27"

# chainlink-evm pkg/config/toml/defaults/opBNB_Testnet.toml (ChainID 5611): the overrides of
# the documented defaults that matter here (facts, cited; not copied code).
CHAIN_DEFAULTS: dict[str, dict[str, Any]] = {
    "5611": {
        "GasEstimator": {"EIP1559DynamicFees": True, "Mode": "FeeHistory"},
        "OCR": {"ContractConfirmations": 1},
    },
    "204": {  # opBNB_Mainnet.toml
        "GasEstimator": {"EIP1559DynamicFees": True, "Mode": "FeeHistory"},
        "OCR": {"ContractConfirmations": 1},
    },
}

# --- schema ---------------------------------------------------------------------------------


def flatten(doc: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in doc.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, path + "."))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            for item in value:
                out.update(flatten(item, path + "[]."))
        else:
            out[path] = value
    return out


@cache
def _docs() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    core = tomllib.loads((SHARED / "core.toml").read_text())
    evm = tomllib.loads((SHARED / "chains-evm.toml").read_text())
    secrets = tomllib.loads((SHARED / "secrets.toml").read_text())
    return core, evm, secrets


def schema_types(which: str) -> dict[str, type]:
    """Documented key path -> TOML type (``str``, ``int``, ``bool``, ``float``, ``list``)."""
    core, evm, secrets = _docs()
    docs = {"config": (core, evm), "secrets": (secrets,)}[which]
    out: dict[str, type] = {}
    for doc in docs:
        for path, value in flatten(doc).items():
            out[path] = type(value)
    return out


def schema_problems(doc: Mapping[str, Any], which: str) -> list[str]:
    types = schema_types(which)
    problems = []
    for path, value in flatten(doc).items():
        if path not in types:
            problems.append(f"{path}: not a Chainlink 2.27 key")
        elif type(value) is not types[path]:
            problems.append(
                f"{path}: {type(value).__name__}, Chainlink documents {types[path].__name__}"
            )
        elif isinstance(value, list) and not all(isinstance(v, str) for v in value):
            problems.append(f"{path}: list items must be strings")
    return problems


# --- values ---------------------------------------------------------------------------------

_WEI_UNITS = {
    "wei": 0,
    "kwei": 3,
    "mwei": 6,
    "gwei": 9,
    "micro": 12,
    "milli": 15,
    "ether": 18,
    "kether": 21,
    "mether": 24,
    "gether": 27,
    "tether": 30,
}


def wei(text: str) -> int:
    """chainlink-evm ``assets.Wei`` text: ``'20 gwei'``, ``'1'`` (wei), decimals allowed."""
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)\s*", text)
    if not m or (m.group(2) and m.group(2) not in _WEI_UNITS):
        raise ValueError(f"not a wei amount: {text!r}")
    value = Decimal(m.group(1)) * (Decimal(10) ** _WEI_UNITS[m.group(2) or "wei"])
    if value != value.to_integral_value():
        raise ValueError(f"fractional wei: {text!r}")
    return int(value)


_GO_UNITS = {"ns": 1, "us": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}


def go_duration_s(text: str) -> float:
    if text == "0":
        return 0.0
    parts = re.findall(r"([0-9.]+)(ns|us|µs|ms|s|m|h)", text)
    if not parts or "".join(a + b for a, b in parts) != text:
        raise ValueError(f"not a Go duration: {text!r}")
    return sum(float(a) * _GO_UNITS[b] for a, b in parts) / 1e9


def merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in top.items():
        out[k] = (
            merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else v
        )
    return out


def effective_core(config: Mapping[str, Any]) -> dict[str, Any]:
    core, _, _ = _docs()
    return merge(core, {k: v for k, v in config.items() if k != "EVM"})


def effective_chain(config: Mapping[str, Any]) -> dict[str, Any]:
    """One chain's config as the node resolves it: documented defaults, then the chain's
    defaults, then the rendered ``[[EVM]]`` table."""
    _, evm_doc, _ = _docs()
    base = {k: v for k, v in evm_doc["EVM"][0].items() if k not in ("Nodes", "KeySpecific")}
    rendered = config["EVM"][0]
    chain = merge(base, CHAIN_DEFAULTS.get(str(rendered["ChainID"]), {}))
    return merge(chain, rendered)


# --- node config ----------------------------------------------------------------------------


def gas_problems(g: Mapping[str, Any]) -> list[str]:
    """chainlink-evm ``GasEstimator.ValidateConfig`` on an effective GasEstimator table."""
    p = []
    if g["BumpPercent"] < 10:  # geth legacypool.DefaultConfig.PriceBump
        p.append("BumpPercent may not be less than Geth's default of 10")
    if wei(g["TipCapDefault"]) < wei(g["TipCapMin"]):
        p.append("TipCapDefault must be greater than or equal to TipCapMinimum")
    if wei(g["FeeCapDefault"]) < wei(g["TipCapDefault"]):
        p.append("FeeCapDefault must be greater than or equal to TipCapDefault")
    fixed_no_bump = g["Mode"] == "FixedPrice" and g["BumpThreshold"] == 0
    if fixed_no_bump and g["EIP1559DynamicFees"] and wei(g["FeeCapDefault"]) != wei(g["PriceMax"]):
        p.append("FeeCapDefault must be equal to PriceMax")
    elif wei(g["FeeCapDefault"]) > wei(g["PriceMax"]):
        p.append("FeeCapDefault must be less than or equal to PriceMax")
    if wei(g["PriceMin"]) > wei(g["PriceDefault"]):
        p.append("PriceMin must be less than or equal to PriceDefault")
    if wei(g["PriceMax"]) < wei(g["PriceDefault"]):
        p.append("PriceMax must be greater than or equal to PriceDefault")
    if g["Mode"] not in ("BlockHistory", "FixedPrice", "SuggestedPrice", "L2Suggested",
                         "Arbitrum", "FeeHistory"):  # fmt: skip
        p.append(f"unknown GasEstimator.Mode {g['Mode']!r}")
    return p


def legacy_fixed_price(g: Mapping[str, Any]) -> int | None:
    """The one gas price (wei) every transaction pays under an effective GasEstimator table,
    or None when it is not fixed (EIP-1559 caps apply, or an estimator/bumping may move it)."""
    if g["EIP1559DynamicFees"] or g["Mode"] != "FixedPrice":
        return None
    default, lo, hi = wei(g["PriceDefault"]), wei(g["PriceMin"]), wei(g["PriceMax"])
    if g["BumpThreshold"] != 0 and hi != default:
        return None  # stuck transactions get bumped above PriceDefault
    return default if lo <= default <= hi else None


def node_config_problems(config: Mapping[str, Any]) -> list[str]:
    p: list[str] = []
    chain = effective_chain(config)
    nodes = config["EVM"][0].get("Nodes") or []
    if not nodes:
        p.append("EVM.Nodes: must have at least one node")
    primaries = [n for n in nodes if not n.get("SendOnly", False)]
    if nodes and not primaries:
        p.append("EVM.Nodes: must have at least one primary node")
    if chain["LogBroadcasterEnabled"]:
        for n in primaries:
            if not n.get("WSURL"):
                p.append(f"EVM.Nodes: {n.get('Name')} (primary) must have a valid WSURL")
    for key in ("Name", "WSURL", "HTTPURL"):
        values = [n[key] for n in nodes if key in n]
        if len(values) != len(set(values)):
            p.append(f"EVM.Nodes: duplicate {key}")
    for n in nodes:
        if not n.get("HTTPURL") or not n.get("Name"):
            p.append("EVM.Nodes: Name and HTTPURL are required")
    p += gas_problems(chain["GasEstimator"])
    link = config["EVM"][0].get("LinkContractAddress")
    if link is not None and link != to_checksum_address(link):
        p.append(f"LinkContractAddress: {link} is not a valid EIP55 formatted address")
    core = effective_core(config)
    if core["OCR"]["Enabled"] or core["OCR2"]["Enabled"]:
        if not core["P2P"]["V2"]["Enabled"]:
            p.append("P2P.V2.Enabled: P2P required for OCR or OCR2")
        elif not core["P2P"]["V2"].get("ListenAddresses"):
            p.append("no P2P.V2.ListenAddresses specified")
    for key in ("ListenAddresses", "AnnounceAddresses"):
        for addr in config.get("P2P", {}).get("V2", {}).get(key, []):
            p += host_port_problems(addr, f"P2P.V2.{key}")
    for loc in config.get("P2P", {}).get("V2", {}).get("DefaultBootstrappers", []):
        p += bootstrapper_problems(loc)
    return p


# --- job specs ------------------------------------------------------------------------------

JOB_TYPES = {
    "blockheaderfeeder", "blockhashstore", "bootstrap", "cron", "directrequest", "fluxmonitor",
    "gateway", "keeper", "legacygasstationserver", "legacygasstationsidecar",
    "offchainreporting2", "offchainreporting", "stream", "vrf", "webhook", "workflow",
    "standardcapabilities", "ccip",
}  # fmt: skip
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _b58decode(text: str) -> bytes:
    n = 0
    for ch in text:
        n = n * 58 + B58.index(ch)
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


def peer_id_problems(peer: str) -> list[str]:
    """libocr ragep2p/types PeerID.UnmarshalText: base58 of 00 24 08 01 12 20 || ed25519 pub."""
    try:
        raw = _b58decode(peer)
    except ValueError:
        return [f"peer id {peer!r}: failed to base58 decode"]
    if len(raw) != 38 or raw[:6] != bytes([0x00, 0x24, 0x08, 0x01, 0x12, 0x20]):
        return [f"peer id {peer!r}: unexpected length or magic"]
    return []


def host_port_problems(addr: str, what: str) -> list[str]:
    """Go net.SplitHostPort: host:port, IPv6 in brackets."""
    m = re.fullmatch(r"(\[[0-9a-fA-F:.]+\]|[^:\[\]]+):([0-9]+)", addr)
    if not m or not 0 <= int(m.group(2)) <= 65535:
        return [f"{what}: {addr!r} is not host:port"]
    return []


def bootstrapper_problems(locator: str) -> list[str]:
    """libocr commontypes.BootstrapperLocator.UnmarshalText."""
    parts = locator.split("@")
    if len(parts) != 2:
        return [f"{locator!r}: expected format is PeerID@Host1:Port1/Host2:Port2"]
    p = peer_id_problems(parts[0])
    for addr in parts[1].split("/") if parts[1] else []:
        p += host_port_problems(addr, f"bootstrapper {parts[0]}")
    return p


_TASK = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*\[(.*)\]$", re.S)
_ATTR = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s"\]]+)\s*')
TASK_ATTRS = {  # the task types we use and the attributes they cannot do without
    "http": ("method", "url"),
    "jsonparse": ("path",),
    "multiply": ("times",),
    "median": (),
    "memo": ("value",),
}


def _strip_comments(source: str) -> str:
    """DOT ``//`` and ``/* */`` comments, outside quoted strings (URLs contain ``//``)."""
    out, i, quoted = [], 0, False
    while i < len(source):
        ch = source[i]
        if quoted:
            out.append(ch)
            if ch == "\\" and i + 1 < len(source):
                out.append(source[i + 1])
                i += 1
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
            out.append(ch)
        elif source.startswith("//", i):
            while i < len(source) and source[i] != "\n":
                i += 1
            continue
        elif source.startswith("/*", i):
            end = source.find("*/", i + 2)
            i = len(source) if end < 0 else end + 2
            continue
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def pipeline_problems(source: str) -> list[str]:
    """core/services/pipeline.Parse for the DOT subset a feed pipeline uses: tasks of known
    types with their attributes, edges between declared tasks, no cycle, no task named
    ``input``; plus ocrcommon's need of exactly one final result."""
    if not source.strip():
        return ["empty pipeline"]
    tasks: dict[str, dict[str, str]] = {}
    edges: list[tuple[str, str]] = []
    p: list[str] = []
    body = _strip_comments(source)
    for stmt in (s.strip() for s in body.split(";")):
        if not stmt:
            continue
        if "->" in stmt and "[" not in stmt:
            chain = [x.strip() for x in stmt.split("->")]
            edges += list(itertools.pairwise(chain))
            continue
        m = _TASK.match(stmt)
        if not m:
            p.append(f"cannot parse pipeline statement {stmt!r}")
            continue
        attrs = {}
        rest = m.group(2)
        for am in _ATTR.finditer(rest):
            attrs[am.group(1)] = am.group(2).strip('"')
        if _ATTR.sub("", rest).strip():
            p.append(f"{m.group(1)}: malformed attributes")
        tasks[m.group(1)] = attrs
    for name, attrs in tasks.items():
        if name == "input":
            p.append("'input' is a reserved keyword that cannot be used as a task's name")
        ttype = attrs.get("type")
        if ttype not in TASK_ATTRS:
            p.append(f"{name}: unknown task type {ttype!r}")
            continue
        p += [f"{name}: {ttype} needs {a}" for a in TASK_ATTRS[ttype] if a not in attrs]
        if ttype == "multiply" and "times" in attrs:
            try:
                Decimal(attrs["times"])
            except ArithmeticError:
                p.append(f"{name}: times is not a number")
    for a, b in edges:
        for t in (a, b):
            if t not in tasks:
                p.append(f"edge names undeclared task {t!r}")
    succ: dict[str, set[str]] = {t: set() for t in tasks}
    for a, b in edges:
        if a in succ and b in succ:
            succ[a].add(b)
    state: dict[str, int] = {}

    def cyclic(t: str) -> bool:
        state[t] = 1
        for n in succ[t]:
            if state.get(n) == 1 or (n not in state and cyclic(n)):
                return True
        state[t] = 2
        return False

    if any(t not in state and cyclic(t) for t in tasks):
        p.append("Unable to topologically sort the graph, cycle detected")
    finals = [t for t, out in succ.items() if not out]
    if len(finals) != 1:
        p.append(f"pipeline must have exactly one final task, has {finals}")
    return p


def _explicit_keys(spec: Mapping[str, Any], expected: set[str], not_expected: set[str],
                   peer_type: str) -> list[str]:  # fmt: skip
    """ocrcommon.ValidateExplicitlySetKeys (top-level keys only)."""
    p = [f"unrecognised key for {peer_type} peer: {k}" for k in spec if k in not_expected]
    p += [f"missing required key {k}" for k in sorted(expected - set(spec))]
    return p


def _bounded(value: float, name: str, lo: float, hi: float) -> list[str]:
    if not lo <= value <= hi:
        return [f"{name} must be between {lo}s and {hi}s, but is currently {value}s"]
    return []


def ocr1_local_config_problems(spec: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    """job.LoadConfigVarsLocalOCR + libocr offchainreporting.SanityCheckLocalConfig."""
    ocr = effective_core(config)["OCR"]
    evm_ocr = effective_chain(config)["OCR"]

    def dur(spec_key: str, default: str) -> float:
        return go_duration_s(spec[spec_key]) if spec.get(spec_key) else go_duration_s(default)

    timeout = dur("observationTimeout", ocr["ObservationTimeout"])
    grace = dur("observationGracePeriod", evm_ocr["ObservationGracePeriod"])
    confirmations = spec.get("contractConfigConfirmations") or evm_ocr["ContractConfirmations"]
    p = _bounded(dur("blockchainTimeout", ocr["BlockchainTimeout"]), "blockchain timeout", 1, 20)
    p += _bounded(
        dur("contractConfigTrackerPollInterval", ocr["ContractPollInterval"]),
        "contract config tracker poll interval",
        15,
        120,
    )
    p += _bounded(
        dur("contractConfigTrackerSubscribeInterval", ocr["ContractSubscribeInterval"]),
        "contract config tracker subscribe interval",
        60,
        300,
    )
    p += _bounded(
        dur("contractTransmitterTransmitTimeout", evm_ocr["ContractTransmitterTransmitTimeout"]),
        "contract transmitter transmit timeout",
        1,
        60,
    )
    p += _bounded(dur("databaseTimeout", evm_ocr["DatabaseTimeout"]), "database timeout", 0.1, 10)
    p += _bounded(timeout, "data source timeout", 1, 20)
    p += _bounded(grace, "data source grace period", 0.01, 2)
    if timeout < grace:
        p.append("data source timeout must be greater than data source grace period")
    if not 1 <= confirmations <= 100:
        p.append("contract config block-depth confirmation threshold must be between 1 and 100")
    if go_duration_s(spec.get("maxTaskDuration", "0s")) > timeout:
        p.append("max task duration must be < observation timeout")
    return p


def ocr2_local_config_problems(spec: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    """ocr2/validate.ToLocalConfig + libocr offchainreporting2plus.SanityCheckLocalConfig."""
    ocr2 = effective_core(config)["OCR2"]
    blockchain = go_duration_s(spec.get("blockchainTimeout") or ocr2["BlockchainTimeout"])
    poll = go_duration_s(
        spec.get("contractConfigTrackerPollInterval") or ocr2["ContractPollInterval"]
    )
    confirmations = spec.get("contractConfigConfirmations") or ocr2["ContractConfirmations"]
    p = _bounded(blockchain, "blockchain timeout", 1, 20)
    p += _bounded(poll, "contract config tracker poll interval", 1, 120)
    p += _bounded(blockchain, "contract config load timeout", 1, 3600)
    p += _bounded(
        go_duration_s(ocr2["ContractTransmitterTransmitTimeout"]),
        "contract transmitter transmit timeout",
        1,
        60,
    )
    p += _bounded(go_duration_s(ocr2["DatabaseTimeout"]), "database timeout", 0.1, 10)
    if not 1 <= confirmations <= 100:
        p.append("contract config block-depth confirmation threshold must be between 1 and 100")
    return p


def job_problems(
    text: str,
    config: Mapping[str, Any],
    *,
    evm_keys: Sequence[str] = (),
    ocr1_bundles: Sequence[str] = (),
    ocr2_bundles: Sequence[str] = (),
) -> list[str]:
    """Everything the node does with ``POST /v2/jobs`` before it stores the job, on a node
    with this ``config.toml`` and these keys."""
    try:
        spec = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return [f"toml error on load: {exc}"]
    jtype = spec.get("type")
    # job.ValidateSpec
    if jtype not in JOB_TYPES:
        return ["invalid job type"]
    if spec.get("schemaVersion") != 1:
        return ["invalid schema version"]
    if "<{}>" in text:
        return ["'<{}>' syntax is not supported"]
    core = effective_core(config)
    p: list[str] = []
    if "observationSource" in spec:
        p += pipeline_problems(spec["observationSource"])
    if "externalJobID" in spec and not re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", spec["externalJobID"]
    ):
        p.append("externalJobID is not a UUID")
    for loc in spec.get("p2pv2Bootstrappers", []):
        p += bootstrapper_problems(loc)
    if jtype == "bootstrap":
        if not core["OCR2"]["Enabled"]:
            p.append("bootstrap jobs need OCR2.Enabled (the delegate is not registered)")
        p += _explicit_keys(
            spec,
            {"type", "schemaVersion", "contractID", "relay", "relayConfig"},
            {"isBootstrapPeer", "juelsPerFeeCoinSource", "observationSource"},
            "bootstrap",
        )
        p += _relay_problems(spec, config)
    elif jtype == "offchainreporting2":
        if not core["OCR2"]["Enabled"]:
            p.append("The Offchain Reporting 2 feature is disabled by configuration")
        p += _explicit_keys(
            spec,
            {"type", "schemaVersion", "contractID", "relay", "relayConfig", "pluginType"},
            {"isBootstrapPeer", "juelsPerFeeCoinSource"},
            "ocr2",
        )
        p += _relay_problems(spec, config)
        if spec.get("pluginType") != "median":
            p.append(f"invalid pluginType {spec.get('pluginType')}")
        elif not spec.get("observationSource"):
            p.append("no pipeline specified")
        juels = spec.get("pluginConfig", {}).get("juelsPerFeeCoinSource")
        if juels is None:
            p.append("median: juelsPerFeeCoinSource is required")
        else:
            p += [f"juelsPerFeeCoinSource: {x}" for x in pipeline_problems(juels)]
        if spec.get("ocrKeyBundleID") not in ocr2_bundles:
            p.append(f"no key bundle with id: {spec.get('ocrKeyBundleID')!r}")
        if spec.get("transmitterID") not in evm_keys:
            p.append(f"no EVM key matching: {spec.get('transmitterID')}")
        p += ocr2_local_config_problems(spec, config)
    elif jtype == "offchainreporting":
        if not core["OCR"]["Enabled"]:
            p.append("The Offchain Reporting feature is disabled by configuration")
        if "isBootstrapPeer" not in spec:
            return [*p, "isBootstrapPeer is not defined"]
        base = {"type", "schemaVersion", "contractAddress", "isBootstrapPeer"}
        if spec["isBootstrapPeer"]:
            p += _explicit_keys(spec, base, {"observationSource"}, "bootstrap")
        else:
            p += _explicit_keys(spec, base | {"observationSource"}, set(), "non-bootstrap")
            if spec.get("keyBundleID") not in ocr1_bundles:
                p.append(f"no key bundle with id: {spec.get('keyBundleID')!r}")
            if spec.get("transmitterAddress") not in evm_keys:
                p.append(f"no key matching transmitter address: {spec.get('transmitterAddress')}")
        for key in ("contractAddress", "transmitterAddress"):  # evmtypes.EIP55Address
            value = spec.get(key)
            if value is not None and value != to_checksum_address(value):
                p.append(f"{key}: {value} is not a valid EIP55 formatted address")
        if not isinstance(spec.get("evmChainID"), str) or not spec["evmChainID"].isdigit():
            p.append("evm chain id must be defined (a decimal string)")
        elif spec["evmChainID"] != config["EVM"][0]["ChainID"]:
            p.append(f"no EVM chain {spec['evmChainID']} on this node")
        if "keyBundleID" in spec and not re.fullmatch(r"[0-9a-f]{64}", spec["keyBundleID"]):
            p.append("keyBundleID is not a sha256 hex hash")
        p += ocr1_local_config_problems(spec, config)
    else:
        p.append(f"sealfeed renders no {jtype} jobs")
    return p


def _relay_problems(spec: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    """relay.SupportedNetworks + OCR2OracleSpec.getChainIdFromRelayConfig + the relayer
    lookup (the node must run that chain)."""
    if spec.get("relay") != "evm":
        return [f"no such relay {spec.get('relay')} supported"]
    chain_id = spec.get("relayConfig", {}).get("chainID")
    if isinstance(chain_id, bool) or not isinstance(chain_id, int | str):
        return [f"unable to parse chainID {chain_id!r}"]
    if not str(chain_id).isdigit():
        return [f"invalid EVM chain id {chain_id!r}"]
    if str(chain_id) != config["EVM"][0]["ChainID"]:
        return [f"no EVM chain {chain_id} on this node"]
    return []


def start_problems(text: str) -> list[str]:
    """What the OCR1 delegate refuses when the job starts (ocr/delegate.go): an oracle job
    needs at least one v2 bootstrapper (from the spec; config.DefaultBootstrappers otherwise,
    which callers check)."""
    spec = tomllib.loads(text)
    oracle = spec.get("type") == "offchainreporting" and not spec.get("isBootstrapPeer")
    if oracle and not spec.get("p2pv2Bootstrappers"):
        return ["Need at least one v2 bootstrap peer defined"]
    return []
