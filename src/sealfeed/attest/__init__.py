"""sealfeed.attest: Intel SGX/TDX DCAP quote verification in three stages.

``quote`` parses (pure), ``verify`` checks signatures/chain/CRLs/TCB against collateral at
a given time (pure), ``policy`` compares a verified report with expected values (pure);
``collateral`` is the only network module (files, cache, PCS/PCCS over aiohttp; one typed
:class:`CollateralSource` and :func:`obtain_collateral`); ``files`` reads quote files;
``binding`` is the one report_data recipe; ``eventlog`` parses the CCEL table and TCG
event log and replays RTMR0-3. See docs/attest.md.
"""

from sealfeed.attest.binding import APPLIANCE_DOMAIN, appliance_report_data
from sealfeed.attest.collateral import (
    Collateral,
    CollateralCache,
    CollateralSource,
    collateral_issue_time,
    fetch_collateral,
    get_collateral,
    load_collateral,
    obtain_collateral,
)
from sealfeed.attest.eventlog import (
    EventLogError,
    compare_rtmrs,
    parse_ccel_table,
    parse_event_log,
    replay_rtmrs,
)
from sealfeed.attest.files import read_quote_file
from sealfeed.attest.policy import (
    Policy,
    PolicyError,
    evaluate_policy,
    load_policy,
    sp_measurement,
)
from sealfeed.attest.quote import DcapQuote, EnclaveReport, QuoteParseError, parse_quote
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
    "APPLIANCE_DOMAIN",
    "INTEL_SGX_ROOT_CA_SHA256",
    "Collateral",
    "CollateralCache",
    "CollateralSource",
    "DcapQuote",
    "EnclaveReport",
    "EventLogError",
    "Policy",
    "PolicyError",
    "QuoteParseError",
    "QuoteVerificationError",
    "TcbStatus",
    "VerifiedCollateral",
    "VerifiedReport",
    "appliance_report_data",
    "collateral_issue_time",
    "compare_rtmrs",
    "evaluate_policy",
    "fetch_collateral",
    "get_collateral",
    "load_collateral",
    "load_policy",
    "obtain_collateral",
    "parse_ccel_table",
    "parse_event_log",
    "parse_quote",
    "read_quote_file",
    "replay_rtmrs",
    "sp_measurement",
    "verify_collateral",
    "verify_quote",
]
