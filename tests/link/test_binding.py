"""attest.binding: the peer recipe (domain-separated from the appliance's)."""

from __future__ import annotations

import hashlib

import pytest

from sealfeed.attest.binding import (
    APPLIANCE_DOMAIN,
    PEER_DOMAIN,
    appliance_report_data,
    peer_issued_at,
    peer_report_data,
)

KEY = hashlib.sha256(b"spki").digest()
CH = "ab" * 32


def test_layout_commits_to_key_config_and_time() -> None:
    rd = peer_report_data(KEY, CH, 1_800_000_000)
    when = (1_800_000_000).to_bytes(8, "big")
    assert len(rd) == 64
    assert rd[:32] == hashlib.sha256(PEER_DOMAIN + KEY + bytes.fromhex(CH) + when).digest()
    assert rd[32:40] == when and rd[40:] == bytes(24)
    assert peer_issued_at(rd) == 1_800_000_000


@pytest.mark.parametrize(
    "other",
    [
        peer_report_data(hashlib.sha256(b"other").digest(), CH, 1_800_000_000),
        peer_report_data(KEY, "cd" * 32, 1_800_000_000),
        peer_report_data(KEY, CH, 1_800_000_001),
        peer_report_data(KEY, "sha256:" + CH, 1_800_000_000)[:0] + b"x" * 64,
    ],
    ids=["other-key", "other-config", "other-time", "garbage"],
)
def test_every_input_changes_the_binding(other: bytes) -> None:
    assert other != peer_report_data(KEY, CH, 1_800_000_000)


def test_domains_never_collide() -> None:
    assert PEER_DOMAIN != APPLIANCE_DOMAIN
    # the appliance binding has zero padding everywhere after 32 bytes: never read as a peer
    # binding with a plausible time (issued_at 0)
    assert peer_issued_at(appliance_report_data("ab" * 32, CH)) == 0


def test_not_a_peer_binding() -> None:
    assert peer_issued_at(b"\x01" * 64) is None
    assert peer_issued_at(bytes(63)) is None


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        peer_report_data(b"short", CH, 1)
    with pytest.raises(ValueError, match="configuration hash"):
        peer_report_data(KEY, "ab" * 31, 1)
    with pytest.raises(ValueError, match="64-bit"):
        peer_report_data(KEY, CH, -1)
