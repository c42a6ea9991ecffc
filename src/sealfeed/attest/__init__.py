"""sealfeed.attest: Intel SGX/TDX DCAP quote verification in three stages.

``quote`` parses (pure), ``verify`` checks signatures/chain/CRLs/TCB against collateral at
a given time (pure), ``policy`` compares a verified report with expected values (pure);
``collateral`` is the only IO module (files, cache, PCS/PCCS over aiohttp); ``eventlog``
parses the CCEL table and TCG event log and replays RTMR0-3. See docs/attest.md.
"""

from sealfeed.attest.collateral import (
    Collateral,
    CollateralCache,
    fetch_collateral,
    get_collateral,
    load_collateral,
)
from sealfeed.attest.eventlog import (
    EventLogError,
    compare_rtmrs,
    parse_ccel_table,
    parse_event_log,
    replay_rtmrs,
)
from sealfeed.attest.policy import Policy, PolicyError, evaluate_policy, load_policy
from sealfeed.attest.quote import Quote, QuoteParseError, parse_quote
from sealfeed.attest.tcbinfo import TcbStatus
from sealfeed.attest.trust import INTEL_SGX_ROOT_CA_SHA256
from sealfeed.attest.verify import (
    QuoteVerificationError,
    VerifiedCollateral,
    VerifiedReport,
    verify_collateral,
    verify_quote,
)

__all__ = [
    "INTEL_SGX_ROOT_CA_SHA256",
    "Collateral",
    "CollateralCache",
    "EventLogError",
    "Policy",
    "PolicyError",
    "Quote",
    "QuoteParseError",
    "QuoteVerificationError",
    "TcbStatus",
    "VerifiedCollateral",
    "VerifiedReport",
    "compare_rtmrs",
    "evaluate_policy",
    "fetch_collateral",
    "get_collateral",
    "load_collateral",
    "load_policy",
    "parse_ccel_table",
    "parse_event_log",
    "parse_quote",
    "replay_rtmrs",
    "verify_collateral",
    "verify_quote",
]
