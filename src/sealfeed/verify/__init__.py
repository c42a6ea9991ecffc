"""``sealfeed verify``: one verdict from image measurement + signed configuration + TDX
evidence (a quote, a Super Protocol order report, or both).

Layout (imports point down; nothing below imports ``cli``)::

    cli           argparse glue: flags -> loaded inputs -> run -> output
    evidence      IO edge: quote / order report / configuration / attestation document off disk
    fetch         network edge: GET the appliance's attestation document (--url)
    chain         the ordered links and the verdict (pure)
    quote_link    quote + policy links over sealfeed.attest
    sp_link       order-report links over sealfeed.sp's shared rule set
    model         Evidence, QuoteEvidence, Inputs, Verdict, ChainCheck

Library users build :class:`Inputs` (evidence from files with :func:`evidence_from_files`,
or from anywhere else as an :class:`Evidence`) and call :func:`run`.
"""

from sealfeed.verify.chain import render_human, run
from sealfeed.verify.evidence import (
    evidence_from_attestation_file,
    evidence_from_document,
    evidence_from_files,
    load_config,
)
from sealfeed.verify.model import (
    ChainCheck,
    Evidence,
    Inputs,
    QuoteEvidence,
    QuoteVerifier,
    Verdict,
)
from sealfeed.verify.quote_link import make_quote_verifier, td_pinned
from sealfeed.verify.sp_link import sp_links

__all__ = [
    "ChainCheck",
    "Evidence",
    "Inputs",
    "QuoteEvidence",
    "QuoteVerifier",
    "Verdict",
    "evidence_from_attestation_file",
    "evidence_from_document",
    "evidence_from_files",
    "load_config",
    "make_quote_verifier",
    "render_human",
    "run",
    "sp_links",
    "td_pinned",
]
