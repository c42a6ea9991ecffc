"""Verified collateral for peers' quotes, and its refresh (the IO edge of admission).

Two sources (plan ``collateral``): a ``file`` (one collateral JSON for every peer, re-read on
refresh -- operators or a sidecar replace it) or a ``pccs_url`` (fetched per quote's
FMSPC / PCK CA, cached in ``cache_dir`` by sealfeed.attest). Collateral is verified once
(:func:`sealfeed.attest.verify_collateral`) and the :class:`VerifiedCollateral` reused for
every quote (ADR 0012); a refresh that changes the content bumps :attr:`generation`,
which makes the service re-verify every admitted peer (docs/link.md "Re-attestation").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from cryptography import x509

from sealfeed.attest.collateral import (
    Collateral,
    fetch_collateral,
    get_collateral,
    load_collateral,
)
from sealfeed.attest.pck import parse_pck_extension
from sealfeed.attest.quote import DcapQuote
from sealfeed.attest.verify import QuoteVerificationError, VerifiedCollateral, verify_collateral
from sealfeed.errors import SealfeedError
from sealfeed.link.admission import PeerRefused, Reason
from sealfeed.link.plan import CollateralSpec

_log = logging.getLogger("sealfeed.link")

Key = tuple[str, str, str]  # (tee, FMSPC hex, "processor" | "platform")


def quote_collateral_key(quote: DcapQuote) -> Key:
    """(TEE, FMSPC, PCK CA kind) of the platform that signed ``quote``."""
    pem = quote.signature_data.pck_chain_pem
    if pem is None:
        raise PeerRefused(Reason.QUOTE, "the quote carries no PCK certificate chain")
    try:
        certs = x509.load_pem_x509_certificates(pem.rstrip(b"\x00"))
        fmspc = parse_pck_extension(certs[0]).fmspc
    except (ValueError, IndexError, SealfeedError) as exc:
        raise PeerRefused(Reason.QUOTE, f"unreadable PCK chain: {exc}") from None
    ca = (
        "processor"
        if len(certs) > 1 and "Processor" in certs[1].subject.rfc4514_string()
        else "platform"
    )
    return quote.tee, fmspc.hex().upper(), ca


class CollateralProvider:
    """``await for_quote(q)`` -> verified collateral; ``await refresh()`` -> changed?"""

    def __init__(self, spec: CollateralSpec, *, clock: Callable[[], float]) -> None:
        self.spec = spec
        self.clock = clock
        self.generation = 0
        self._raw: dict[Key | None, Collateral] = {}
        self._verified: dict[Key | None, VerifiedCollateral] = {}

    def _verify(self, coll: Collateral) -> VerifiedCollateral:
        try:
            return verify_collateral(coll, now=self.clock(), trust_roots=self.spec.trust_roots)
        except QuoteVerificationError as exc:
            raise PeerRefused(Reason.COLLATERAL, f"{exc.check}: {exc.message}") from None
        except SealfeedError as exc:
            raise PeerRefused(Reason.COLLATERAL, str(exc)) from None

    def load_initial(self) -> None:
        """File mode: read the file now (a missing/malformed file is an input error at
        start-up, exit 2). PCCS mode fetches lazily per FMSPC."""
        if self.spec.file is not None:
            self._raw[None] = load_collateral(self.spec.file)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    async def for_quote(self, quote: DcapQuote) -> VerifiedCollateral:
        key: Key | None = None if self.spec.file is not None else quote_collateral_key(quote)
        vc = self._verified.get(key)
        if vc is not None:
            return vc
        coll = self._raw.get(key)
        if coll is None:
            coll = await self._obtain(key)
            self._raw[key] = coll
        vc = self._verify(coll)
        self._verified[key] = vc
        return vc

    async def _obtain(self, key: Key | None) -> Collateral:
        try:
            if key is None:
                assert self.spec.file is not None
                return load_collateral(self.spec.file)
            assert self.spec.pccs_url is not None
            tee, fmspc, ca = key
            coll, _how = await get_collateral(
                self.spec.pccs_url,
                tee=tee,
                fmspc=bytes.fromhex(fmspc),
                ca=ca,
                now=self._now(),
                cache_dir=self.spec.cache_dir,
                root_crl_url=self.spec.root_crl_url,
            )
            return coll
        except SealfeedError as exc:
            raise PeerRefused(Reason.COLLATERAL, f"no collateral: {exc}") from None

    async def refresh(self) -> bool:
        """Re-read (file) or re-fetch (PCCS, bypassing the cache) every collateral in use;
        True when any changed. Verification of the new content happens on next use, so a
        bad refresh makes peers fail ``collateral`` -- closed, not open."""
        changed = False
        for key in list(self._raw):
            try:
                if key is None:
                    assert self.spec.file is not None
                    new = load_collateral(self.spec.file)
                else:
                    assert self.spec.pccs_url is not None
                    tee, fmspc, ca = key
                    new = await fetch_collateral(
                        self.spec.pccs_url,
                        tee=tee,
                        fmspc=bytes.fromhex(fmspc),
                        ca=ca,
                        root_crl_url=self.spec.root_crl_url,
                    )
                    if self.spec.cache_dir is not None:
                        from sealfeed.attest.collateral import CollateralCache

                        CollateralCache(self.spec.cache_dir).put(tee, bytes.fromhex(fmspc), ca, new)
            except SealfeedError as exc:
                # keep what we have; its validity windows still bound how long it is used
                _log.warning(
                    "collateral refresh failed",
                    extra={"event": "collateral_refresh_failed", "error": str(exc)},
                )
                continue
            if new.digest() != self._raw[key].digest():
                self._raw[key] = new
                self._verified.pop(key, None)
                changed = True
        # verified collateral is also re-checked against time on every refresh tick
        for key, vc in list(self._verified.items()):
            if self._now() >= vc.valid_until:
                self._verified.pop(key, None)
                changed = True
        if changed:
            self.generation += 1
            _log.info(
                "collateral changed",
                extra={"event": "collateral_changed", "generation": self.generation},
            )
        return changed


__all__ = ["CollateralProvider", "quote_collateral_key"]
