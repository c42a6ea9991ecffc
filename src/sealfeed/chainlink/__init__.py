"""sealfeed.chainlink: Chainlink node config/secrets rendering, node keys that never leave the
TEE, idempotent OCR2 job publishing and the oracle set for ``setConfig`` (docs/chainlink.md).
"""

from sealfeed.chainlink.client import NodeApiError, NodeClient, RetryPolicy
from sealfeed.chainlink.jobs import JobSpec, desired_jobs, validate_feeds
from sealfeed.chainlink.keys import NodePublicKeys, ensure_node_keys, load_public_keys
from sealfeed.chainlink.keystore import EvmKey, OCR2KeyBundle, P2PKey, ScryptParams
from sealfeed.chainlink.oracle_set import oracle_set
from sealfeed.chainlink.publish import PublishReport, plan_node, publish
from sealfeed.chainlink.render import bootstrappers, render_node_files, write_node_files

__all__ = [
    "EvmKey",
    "JobSpec",
    "NodeApiError",
    "NodeClient",
    "NodePublicKeys",
    "OCR2KeyBundle",
    "P2PKey",
    "PublishReport",
    "RetryPolicy",
    "ScryptParams",
    "bootstrappers",
    "desired_jobs",
    "ensure_node_keys",
    "load_public_keys",
    "oracle_set",
    "plan_node",
    "publish",
    "render_node_files",
    "validate_feeds",
    "write_node_files",
]
