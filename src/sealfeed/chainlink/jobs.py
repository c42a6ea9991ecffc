"""OCR job specs as TOML (pure): per feed, one bootstrap job on every bootstrap node and one
reporting job on every oracle node -- OCR2 or OCR1 by the feed's ``ocr_version``.

Field names follow the Chainlink 2.27 job specs (``core/services/job/models.go`` TOML tags):

* OCR2 (``ocr_version = 2``): ``type = "bootstrap"`` / ``"offchainreporting2"`` with
  ``relay = "evm"``, ``[relayConfig] chainID``, ``pluginType = "median"`` and
  ``[pluginConfig] juelsPerFeeCoinSource``.
* OCR1 (``ocr_version = 1``, the reference's ``AccessControlledOffchainAggregator`` feeds):
  ``type = "offchainreporting"`` with ``contractAddress`` (EIP-55, which ``EIP55Address``
  insists on), ``evmChainID``, ``isBootstrapPeer``; oracle jobs add ``p2pv2Bootstrappers``,
  ``keyBundleID`` (the OCR1 bundle), ``transmitterAddress`` and the same pipeline.

The observation source is a pipeline that asks the
sealfeed aggregator for each configured source (``GET /quote/<source>/<base>/<quote>``,
``jsonparse path="price"``), scales by ``10**decimals`` and takes the median -- the same shape
as the reference's feed templates, but generated from the typed configuration.

``externalJobID`` is a UUIDv5 of the spec's content, so "identical job" is decidable from the
node's job list alone (the REST API does not echo a job's TOML): same name and same
external id = keep; same name and another id = the spec changed -> replace.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import tomli_w

from sealfeed.chainlink.keystore import to_checksum_address
from sealfeed.config.model import ApplianceConfig, FeedConfig, NodeSpec
from sealfeed.errors import InputError
from sealfeed.netutil import reachable_host

#: namespace of the content-derived externalJobID (uuid5(NAMESPACE_URL, "sealfeed:chainlink:job"))
JOB_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "sealfeed:chainlink:job")
JOB_NAME_PREFIX = "sealfeed"

_SYMBOL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
_SOURCE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_NAME_OK = re.compile(r"^[\w /.:()+-]{1,64}$")
#: 10**36 already exceeds int192's useful range on-chain; keep the multiplier sane.
MAX_DECIMALS = 36
OCR_VERSIONS = (1, 2)
JobType = Literal["bootstrap", "offchainreporting2", "offchainreporting"]


@dataclass(frozen=True)
class JobSpec:
    node: int
    name: str
    type: JobType
    external_job_id: str
    toml: str
    feed: str

    @property
    def file_name(self) -> str:
        """``<feed slug>.toml``: where ``render --out`` writes this spec (``jobs/``)."""
        return job_file_name(self.feed)


def job_file_name(feed_name: str) -> str:
    """``BTC/USD`` -> ``btc-usd.toml`` (the reference's template names); safe on any FS."""
    slug = re.sub(r"[^a-z0-9.]+", "-", feed_name.lower()).strip("-.")
    return f"{slug or 'feed'}.toml"


def _feed_error(i: int, field: str, message: str) -> InputError:
    return InputError(message, location=f"chainlink.feeds[{i}].{field}")


def validate_feeds(cfg: ApplianceConfig) -> tuple[FeedConfig, ...]:
    """Every problem with a feed as a precise error, before any node is contacted."""
    feeds = cfg.chainlink.feeds
    if not feeds:
        raise InputError("no feeds configured", location="chainlink.feeds")
    known = {name for name, src in cfg.aggregator.sources.items() if src.enabled}
    names: set[str] = set()
    addresses: set[str] = set()
    files: dict[str, str] = {}
    for i, feed in enumerate(feeds):
        if not isinstance(feed.name, str) or not _NAME_OK.match(feed.name):
            raise _feed_error(
                i, "name", "must be 1-64 characters of letters, digits, space and / . : ( ) + -"
            )
        if feed.name in names:
            raise _feed_error(i, "name", f"duplicate feed name {feed.name!r}")
        names.add(feed.name)
        for field in ("base", "quote"):
            value = getattr(feed, field)
            if not isinstance(value, str) or not _SYMBOL.match(value):
                raise _feed_error(i, field, f"{value!r} is not a symbol ([A-Za-z0-9._-], max 32)")
        if not feed.sources:
            raise _feed_error(i, "sources", "at least one source is required")
        seen: set[str] = set()
        for j, src in enumerate(feed.sources):
            if not isinstance(src, str) or not _SOURCE.match(src):
                raise _feed_error(i, f"sources[{j}]", f"{src!r} is not a source name ([a-z0-9_-])")
            if src in seen:
                raise _feed_error(i, f"sources[{j}]", f"duplicate source {src!r}")
            seen.add(src)
            if known and src not in known:
                raise _feed_error(
                    i, f"sources[{j}]", f"source {src!r} is not an enabled aggregator source"
                )
        addr = feed.contract_address
        if not isinstance(addr, str) or not _ADDRESS.match(addr):
            raise _feed_error(
                i, "contract_address", f"{addr!r} is not a 0x-prefixed 20-byte address"
            )
        body = addr[2:]
        mixed = body not in (body.lower(), body.upper())
        if mixed and to_checksum_address(bytes.fromhex(body)) != addr:
            raise _feed_error(i, "contract_address", "mixed-case address fails the EIP-55 check")
        if addr.lower() in addresses:
            raise _feed_error(i, "contract_address", f"duplicate contract address {addr}")
        addresses.add(addr.lower())
        dec = feed.decimals
        if isinstance(dec, bool) or not isinstance(dec, int) or not 0 <= dec <= MAX_DECIMALS:
            raise _feed_error(i, "decimals", f"must be an integer 0..{MAX_DECIMALS}")
        if isinstance(feed.ocr_version, bool) or feed.ocr_version not in OCR_VERSIONS:
            raise _feed_error(i, "ocr_version", "must be 1 (OCR1) or 2 (OCR2)")
        file_name = job_file_name(feed.name)
        if file_name in files:
            raise _feed_error(
                i, "name", f"job file {file_name} would also be {files[file_name]!r}'s"
            )
        files[file_name] = feed.name
    return feeds


def aggregator_base_url(cfg: ApplianceConfig) -> str:
    host = reachable_host(cfg.aggregator.host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{cfg.aggregator.port}"


def observation_source(feed: FeedConfig, base_url: str) -> str:
    """The median pipeline: one http -> jsonparse -> multiply branch per source."""
    times = 10**feed.decimals
    lines: list[str] = []
    for i, src in enumerate(feed.sources, start=1):
        url = f"{base_url}/quote/{src}/{feed.base}/{feed.quote}"
        lines.append(f'ds{i} [type=http method=GET url="{url}"];')
        lines.append(f"ds{i}_parse [type=jsonparse path=price];")
        lines.append(f"ds{i}_multiply [type=multiply times={times}];")
    lines.append("answer [type=median];")
    for i in range(1, len(feed.sources) + 1):
        lines.append(f"ds{i} -> ds{i}_parse -> ds{i}_multiply -> answer;")
    # DOT: bare identifiers need no quotes, so only URLs are quoted (keeps the TOML readable)
    return "\n".join(f"    {line}" for line in lines) + "\n"


#: Fees are not paid in LINK on this deployment; the median plugin still requires a source.
JUELS_PER_FEE_COIN_SOURCE = "    juels [type=memo value=0];\n"


def eip55(address: str) -> str:
    """A validated 0x address in EIP-55 form (OCR1 specs refuse any other spelling)."""
    return to_checksum_address(bytes.fromhex(address.removeprefix("0x")))


def _finish(node: int, feed: FeedConfig, body: dict[str, Any]) -> JobSpec:
    """Derive the content id, then render with it placed right after ``name``."""
    canonical = tomli_w.dumps(body, multiline_strings=True)
    ext = str(uuid.uuid5(JOB_ID_NAMESPACE, canonical))
    ordered: dict[str, Any] = {}
    for k, v in body.items():
        ordered[k] = v
        if k == "name":
            ordered["externalJobID"] = ext
    text = tomli_w.dumps(ordered, multiline_strings=True)
    return JobSpec(node, body["name"], body["type"], ext, text, feed.name)


def bootstrap_job(node: NodeSpec, feed: FeedConfig, chain_id: int) -> JobSpec:
    body: dict[str, Any] = {
        "type": "bootstrap",
        "schemaVersion": 1,
        "name": f"{JOB_NAME_PREFIX} {feed.name} bootstrap",
        "contractID": feed.contract_address,
        "relay": "evm",
        "relayConfig": {"chainID": chain_id},
    }
    return _finish(node.index, feed, body)


def median_job(
    node: NodeSpec,
    feed: FeedConfig,
    *,
    chain_id: int,
    ocr_key_bundle_id: str,
    transmitter: str,
    bootstrappers: Sequence[str],
    aggregator_url: str,
) -> JobSpec:
    body: dict[str, Any] = {
        "type": "offchainreporting2",
        "schemaVersion": 1,
        "name": f"{JOB_NAME_PREFIX} {feed.name}",
        "forwardingAllowed": False,
        "maxTaskDuration": "0s",
        "contractID": feed.contract_address,
        "ocrKeyBundleID": ocr_key_bundle_id,
        "p2pv2Bootstrappers": list(bootstrappers),
        "relay": "evm",
        "pluginType": "median",
        "transmitterID": transmitter,
        "observationSource": observation_source(feed, aggregator_url),
        "relayConfig": {"chainID": chain_id},
        "pluginConfig": {"juelsPerFeeCoinSource": JUELS_PER_FEE_COIN_SOURCE},
    }
    return _finish(node.index, feed, body)


def ocr1_bootstrap_job(node: NodeSpec, feed: FeedConfig, chain_id: int) -> JobSpec:
    """OCR1 bootstrap peer (ocr/validate.go: type, schemaVersion, contractAddress and
    isBootstrapPeer must be set; observationSource must not)."""
    body: dict[str, Any] = {
        "type": "offchainreporting",
        "schemaVersion": 1,
        "name": f"{JOB_NAME_PREFIX} {feed.name} bootstrap",
        "contractAddress": eip55(feed.contract_address),
        "evmChainID": str(chain_id),
        "isBootstrapPeer": True,
    }
    return _finish(node.index, feed, body)


def ocr1_job(
    node: NodeSpec,
    feed: FeedConfig,
    *,
    chain_id: int,
    ocr_key_bundle_id: str,
    transmitter: str,
    bootstrappers: Sequence[str],
    aggregator_url: str,
) -> JobSpec:
    """OCR1 oracle: the same aggregator-backed median pipeline as the OCR2 job."""
    body: dict[str, Any] = {
        "type": "offchainreporting",
        "schemaVersion": 1,
        "name": f"{JOB_NAME_PREFIX} {feed.name}",
        "forwardingAllowed": False,
        "maxTaskDuration": "0s",
        "contractAddress": eip55(feed.contract_address),
        "evmChainID": str(chain_id),
        "p2pv2Bootstrappers": list(bootstrappers),
        "isBootstrapPeer": False,
        "keyBundleID": ocr_key_bundle_id,
        "transmitterAddress": eip55(transmitter),
        "observationSource": observation_source(feed, aggregator_url),
    }
    return _finish(node.index, feed, body)


def desired_jobs(
    cfg: ApplianceConfig,
    *,
    bootstrappers: Sequence[str],
    keys: Mapping[int, Any],
) -> dict[int, list[JobSpec]]:
    """All jobs per node. ``keys[node]`` needs ``evm_address``, ``ocr2_bundle_id`` and, when a
    feed is OCR1, ``ocr1_bundle_id`` (:class:`~sealfeed.chainlink.keys.NodePublicKeys`)."""
    feeds = validate_feeds(cfg)
    url = aggregator_base_url(cfg)
    chain_id = cfg.chain.chain_id
    out: dict[int, list[JobSpec]] = {}
    for node in cfg.nodes.specs():
        jobs: list[JobSpec] = []
        for f in feeds:
            if node.role == "bootstrap":
                maker = bootstrap_job if f.ocr_version == 2 else ocr1_bootstrap_job
                jobs.append(maker(node, f, chain_id))
                continue
            k = keys[node.index]
            if f.ocr_version == 2:
                jobs.append(
                    median_job(
                        node,
                        f,
                        chain_id=chain_id,
                        ocr_key_bundle_id=k.ocr2_bundle_id,
                        transmitter=k.evm_address,
                        bootstrappers=bootstrappers,
                        aggregator_url=url,
                    )
                )
                continue
            if not k.ocr1_bundle_id:
                raise InputError(
                    f"feed {f.name!r} is OCR1 but node {node.index} has no OCR1 key bundle "
                    "(run 'sealfeed chainlink keys')",
                    location=f"chainlink/node-{node.index}/ocr_key.json",
                )
            jobs.append(
                ocr1_job(
                    node,
                    f,
                    chain_id=chain_id,
                    ocr_key_bundle_id=k.ocr1_bundle_id,
                    transmitter=k.evm_address,
                    bootstrappers=bootstrappers,
                    aggregator_url=url,
                )
            )
        out[node.index] = jobs
    return out


__all__ = [
    "OCR_VERSIONS",
    "JobSpec",
    "JobType",
    "aggregator_base_url",
    "bootstrap_job",
    "desired_jobs",
    "eip55",
    "job_file_name",
    "median_job",
    "observation_source",
    "ocr1_bootstrap_job",
    "ocr1_job",
    "validate_feeds",
]
