"""sealfeed.chainlink: Chainlink 2.27 node config/secrets/job-spec rendering, node keys that
never leave the TEE, idempotent OCR1/OCR2 job publishing and the ``setConfig`` inputs of the
feed contracts (docs/chainlink.md).
"""

from sealfeed.chainlink.client import NodeApiError, NodeClient, RetryPolicy
from sealfeed.chainlink.jobs import JobSpec, desired_jobs, validate_feeds
from sealfeed.chainlink.keys import NodePublicKeys, ensure_node_keys, kinds_for, load_public_keys
from sealfeed.chainlink.keystore import (
    EvmKey,
    OCR1KeyBundle,
    OCR2KeyBundle,
    P2PKey,
    ScryptParams,
)
from sealfeed.chainlink.ocr1_config import OCR1Params
from sealfeed.chainlink.oracle_set import oracle_set
from sealfeed.chainlink.publish import PublishReport, plan_node, publish
from sealfeed.chainlink.render import (
    P2PAddresses,
    bootstrappers,
    p2p_addresses,
    render_node_files,
    write_node_files,
)

__all__ = [
    "EvmKey",
    "JobSpec",
    "NodeApiError",
    "NodeClient",
    "NodePublicKeys",
    "OCR1KeyBundle",
    "OCR1Params",
    "OCR2KeyBundle",
    "P2PAddresses",
    "P2PKey",
    "PublishReport",
    "RetryPolicy",
    "ScryptParams",
    "bootstrappers",
    "desired_jobs",
    "ensure_node_keys",
    "kinds_for",
    "load_public_keys",
    "oracle_set",
    "p2p_addresses",
    "plan_node",
    "publish",
    "render_node_files",
    "validate_feeds",
    "write_node_files",
]
