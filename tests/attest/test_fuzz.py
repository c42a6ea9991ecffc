"""Bit-flip fuzzing: flipping any single bit of a valid quote's signed region (header +
TD report), its signature, attestation key, QE report, QE report signature or QE auth
data is rejected -- as a parse error or a verification failure, never accepted and never
an unexpected exception. Every bit position is tried (about 9,900 flips)."""

from __future__ import annotations

import pytest

from sealfeed.attest import QuoteVerificationError, verify_collateral, verify_quote
from sealfeed.errors import InputError
from tests.attest.conftest import Sample

NOW = 1751328000


@pytest.mark.slow
def test_every_single_bit_flip_is_rejected(attest_samples: dict[str, Sample]) -> None:
    s = attest_samples["tdx_quote"]
    raw = s.quote[:4936]
    vc = verify_collateral(s.collateral, now=NOW)
    assert verify_quote(raw, vc, now=NOW).tcb_status.value == "UpToDate"
    sig = 48 + 584 + 4  # start of signature data
    # header+body, quote signature + attestation key, cert-data type/size, QE report,
    # QE report signature, QE auth data length + data
    regions = [
        (0, 632),
        (sig, sig + 128),
        (sig + 128, sig + 134),
        (sig + 134, sig + 134 + 384 + 64 + 2 + 32),
    ]
    flips = accepted = 0
    for lo, hi in regions:
        for off in range(lo, hi):
            for bit in range(8):
                mutated = bytearray(raw)
                mutated[off] ^= 1 << bit
                flips += 1
                try:
                    verify_quote(bytes(mutated), vc, now=NOW)
                except (QuoteVerificationError, InputError):
                    continue
                accepted += 1
    assert flips == 8 * (632 + 134 + 482)
    assert accepted == 0
