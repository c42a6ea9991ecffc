"""Quote collateral: the dcap-qvl ``QuoteCollateralV3`` JSON shape, loading from files,
an on-disk cache keyed by FMSPC / CA, and fetching from an Intel PCS or PCCS.

This is the only module in ``sealfeed.attest`` that performs IO over the network (aiohttp,
imported lazily). Failures to obtain collateral are :class:`ExternalError` (exit 3),
malformed collateral is :class:`InputError` (exit 2).

PCS API v4 (https://api.portal.trustedservices.intel.com/content/documentation.html):
  GET {base}/sgx/certification/v4/pckcrl?ca={processor|platform}&encoding=der
      -> DER CRL, header ``SGX-PCK-CRL-Issuer-Chain`` (URL-encoded PEM)
  GET {base}/{sgx|tdx}/certification/v4/tcb?fmspc={FMSPC}
      -> ``{"tcbInfo": {...}, "signature": "<hex r||s>"}``, header
         ``TCB-Info-Issuer-Chain`` (``SGX-TCB-Info-Issuer-Chain`` on SGX/older PCCS)
  GET {base}/{sgx|tdx}/certification/v4/qe/identity
      -> ``{"enclaveIdentity": {...}, "signature": "..."}``, header
         ``SGX-Enclave-Identity-Issuer-Chain``
  Root CA CRL: PCCS ``GET {base}/sgx/certification/v4/rootcacrl`` (hex or DER); on Intel's
  PCS the root certificate's CRL distribution point
  (https://certificates.trustedservices.intel.com/IntelSGXRootCA.der).
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sealfeed.attest.quote import DcapQuote
from sealfeed.errors import ExternalError, InputError

_FIELDS = (
    "pck_crl_issuer_chain",
    "root_ca_crl",
    "pck_crl",
    "tcb_info_issuer_chain",
    "tcb_info",
    "tcb_info_signature",
    "qe_identity_issuer_chain",
    "qe_identity",
    "qe_identity_signature",
)
_BINARY = {"root_ca_crl", "pck_crl", "tcb_info_signature", "qe_identity_signature"}


@dataclass(frozen=True)
class Collateral:
    """Everything needed to verify a quote besides the quote (dcap-qvl QuoteCollateralV3).

    ``tcb_info`` / ``qe_identity`` are the exact signed JSON texts; CRLs are DER;
    signatures are raw 64-byte ECDSA-P256 ``r||s``; chains are PEM text.
    """

    pck_crl_issuer_chain: str
    root_ca_crl: bytes
    pck_crl: bytes
    tcb_info_issuer_chain: str
    tcb_info: str
    tcb_info_signature: bytes
    qe_identity_issuer_chain: str
    qe_identity: str
    qe_identity_signature: bytes

    def to_json_dict(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for f in _FIELDS:
            v = getattr(self, f)
            out[f] = v.hex() if f in _BINARY else v
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_json_dict(), indent=2)

    def digest(self) -> str:
        """Content hash: the key of the verified-collateral cache."""
        h = hashlib.sha256()
        for f in _FIELDS:
            v = getattr(self, f)
            b = v if isinstance(v, bytes) else v.encode()
            h.update(len(b).to_bytes(8, "big") + b)
        return h.hexdigest()

    @classmethod
    def from_json_dict(cls, doc: Any, source: str = "collateral") -> Collateral:
        if not isinstance(doc, dict):
            raise InputError("collateral must be a JSON object", location=source)
        values: dict[str, Any] = {}
        for f in _FIELDS:
            v = doc.get(f)
            if not isinstance(v, str):
                raise InputError(f"field {f!r} is missing or not a string", location=source)
            if f in _BINARY:
                try:
                    values[f] = bytes.fromhex(v)
                except ValueError:
                    raise InputError(f"field {f!r} is not hex", location=source) from None
            else:
                values[f] = v
        return cls(**values)


def load_collateral(path: str | os.PathLike[str]) -> Collateral:
    """Load a collateral JSON file (the shape of ``../shared/tdx-samples/*_collateral.json``)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("collateral file not found", location=str(p)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read collateral: {exc}", location=str(p)) from None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise InputError(f"collateral is not valid JSON: {exc}", location=str(p)) from None
    return Collateral.from_json_dict(doc, str(p))


# --- cache ----------------------------------------------------------------------------------


def _parse_time(s: str) -> datetime | None:
    try:
        t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def collateral_next_update(coll: Collateral) -> datetime | None:
    """Earliest ``nextUpdate`` over TCB info, QE identity and both CRLs (None if unknown)."""
    from cryptography import x509

    times: list[datetime] = []
    for text in (coll.tcb_info, coll.qe_identity):
        try:
            t = _parse_time(str(json.loads(text).get("nextUpdate", "")))
        except (ValueError, AttributeError):
            t = None
        if t is not None:
            times.append(t)
    for der in (coll.root_ca_crl, coll.pck_crl):
        try:
            nu = x509.load_der_x509_crl(der).next_update_utc
        except ValueError:
            continue
        if nu is not None:
            times.append(nu)
    return min(times) if times else None


def cache_key(tee: str, fmspc: bytes, ca: str) -> str:
    """Cache file name: collateral depends on TEE type, FMSPC (TCB info) and PCK CA (CRL)."""
    return f"{tee.lower()}-{fmspc.hex().upper()}-{ca}.json"


class CollateralCache:
    """Directory of ``<tee>-<FMSPC>-<ca>.json`` collateral files; an entry is fresh until
    the earliest ``nextUpdate`` inside it."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.dir = Path(directory)

    def path(self, tee: str, fmspc: bytes, ca: str) -> Path:
        return self.dir / cache_key(tee, fmspc, ca)

    def get(self, tee: str, fmspc: bytes, ca: str, now: datetime) -> Collateral | None:
        p = self.path(tee, fmspc, ca)
        if not p.is_file():
            return None
        try:
            coll = load_collateral(p)
        except InputError:
            return None  # a corrupt cache entry is refetched, not fatal
        nu = collateral_next_update(coll)
        if nu is None or now >= nu:
            return None
        return coll

    def put(self, tee: str, fmspc: bytes, ca: str, coll: Collateral) -> Path:
        from sealfeed.fsutil import atomic_write

        self.dir.mkdir(parents=True, exist_ok=True)
        p = self.path(tee, fmspc, ca)
        atomic_write(p, coll.to_json().encode())
        return p


# --- fetching ----------------------------------------------------------------------------

INTEL_PCS_URL = "https://api.trustedservices.intel.com"
#: CRL distribution point of the Intel SGX Root CA certificate (Intel PCS has no
#: rootcacrl endpoint; PCCS does)
INTEL_ROOT_CA_CRL_URL = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"


@dataclass(frozen=True)
class PcsEndpoints:
    base: str
    tee: str  # "sgx" | "tdx"
    fmspc: str  # upper-case hex
    ca: str  # "processor" | "platform"

    def _url(self, tee: str, path: str) -> str:
        return f"{self.base.rstrip('/')}/{tee}/certification/v4/{path}"

    @property
    def pckcrl(self) -> str:
        return self._url("sgx", f"pckcrl?ca={self.ca}&encoding=der")

    @property
    def tcb(self) -> str:
        return self._url(self.tee, f"tcb?fmspc={self.fmspc}")

    @property
    def qe_identity(self) -> str:
        return self._url(self.tee, "qe/identity")

    @property
    def rootcacrl(self) -> str:
        return self._url("sgx", "rootcacrl")


def _signed_member(body: str, key: str, url: str) -> tuple[str, bytes]:
    """Return the exact text of ``body[key]`` (the signed bytes) and the signature.

    Intel signs the member's bytes as served; re-serialising could change them, so we
    locate the member's span with ``raw_decode`` instead."""
    try:
        doc = json.loads(body)
        sig = bytes.fromhex(doc["signature"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ExternalError(
            f"malformed response (no {key}/signature): {exc}", location=url
        ) from None
    dec = json.JSONDecoder()
    marker = f'"{key}"'
    i = body.find(marker)
    while i >= 0:
        j = i + len(marker)
        while j < len(body) and body[j] in " \t\r\n":
            j += 1
        if j < len(body) and body[j] == ":":
            j += 1
            while j < len(body) and body[j] in " \t\r\n":
                j += 1
            try:
                _, end = dec.raw_decode(body, j)
            except ValueError:
                break
            return body[j:end], sig
        i = body.find(marker, i + 1)
    raise ExternalError(f"response has no {key!r} member", location=url)


def _crl_der(body: bytes) -> bytes:
    """PCCS serves CRLs as DER, as hex text, or as PEM; normalise to DER."""
    if body[:1] == b"\x30":
        return body
    text = body.strip()
    if text.startswith(b"-----BEGIN"):
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding

        return x509.load_pem_x509_crl(text).public_bytes(Encoding.DER)
    return bytes.fromhex(text.decode("ascii"))


async def fetch_collateral(
    base_url: str,
    *,
    tee: str,
    fmspc: bytes,
    ca: str,
    root_crl_url: str | None = None,
    timeout: float = 30.0,
) -> Collateral:
    """Fetch collateral for one (TEE, FMSPC, PCK CA) from a PCS/PCCS at ``base_url``."""
    try:
        import aiohttp
    except ImportError:  # pragma: no cover
        raise ExternalError("aiohttp must be installed to fetch collateral") from None
    ep = PcsEndpoints(base_url, tee.lower(), fmspc.hex().upper(), ca)

    async def get(session: aiohttp.ClientSession, url: str) -> tuple[bytes, Any]:
        try:
            async with session.get(url) as resp:
                body = await resp.read()
                if resp.status != 200:
                    raise ExternalError(f"HTTP {resp.status} from PCS", location=url)
                return body, resp.headers
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise ExternalError(f"cannot reach PCS: {exc}", location=url) from None

    def header(headers: Any, url: str, *names: str) -> str:
        for n in names:
            v = headers.get(n)
            if v:
                return urllib.parse.unquote(v)
        raise ExternalError(f"response lacks header {names[0]}", location=url)

    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(timeout=client_timeout) as session:
        body, h = await get(session, ep.pckcrl)
        pck_crl_chain = header(h, ep.pckcrl, "SGX-PCK-CRL-Issuer-Chain")
        try:
            pck_crl = _crl_der(body)
        except ValueError as exc:
            raise ExternalError(f"PCK CRL is not DER/hex/PEM: {exc}", location=ep.pckcrl) from None
        body, h = await get(session, ep.tcb)
        tcb_chain = header(h, ep.tcb, "TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain")
        tcb_info, tcb_sig = _signed_member(body.decode("utf-8", "replace"), "tcbInfo", ep.tcb)
        body, h = await get(session, ep.qe_identity)
        qe_chain = header(h, ep.qe_identity, "SGX-Enclave-Identity-Issuer-Chain")
        qe_identity, qe_sig = _signed_member(
            body.decode("utf-8", "replace"), "enclaveIdentity", ep.qe_identity
        )
        if root_crl_url is None and base_url.rstrip("/") == INTEL_PCS_URL:
            root_crl_url = INTEL_ROOT_CA_CRL_URL
        url = root_crl_url or ep.rootcacrl
        body, _ = await get(session, url)
        try:
            root_crl = _crl_der(body)
        except ValueError as exc:
            raise ExternalError(f"root CA CRL is not DER/hex/PEM: {exc}", location=url) from None
    return Collateral(
        pck_crl_issuer_chain=pck_crl_chain,
        root_ca_crl=root_crl,
        pck_crl=pck_crl,
        tcb_info_issuer_chain=tcb_chain,
        tcb_info=tcb_info,
        tcb_info_signature=tcb_sig,
        qe_identity_issuer_chain=qe_chain,
        qe_identity=qe_identity,
        qe_identity_signature=qe_sig,
    )


async def get_collateral(
    base_url: str,
    *,
    tee: str,
    fmspc: bytes,
    ca: str,
    now: datetime | None,
    cache_dir: str | os.PathLike[str] | None = None,
    root_crl_url: str | None = None,
) -> tuple[Collateral, str]:
    """Collateral from the cache when fresh (``now`` < earliest nextUpdate), else fetched
    and stored. ``now=None`` (no verification time chosen yet) cannot judge freshness, so
    it always fetches. Returns (collateral, "cache" | "fetched")."""
    cache = CollateralCache(cache_dir) if cache_dir is not None else None
    if cache is not None and now is not None:
        hit = cache.get(tee, fmspc, ca, now)
        if hit is not None:
            return hit, "cache"
    coll = await fetch_collateral(base_url, tee=tee, fmspc=fmspc, ca=ca, root_crl_url=root_crl_url)
    if cache is not None:
        cache.put(tee, fmspc, ca, coll)
    return coll, "fetched"


# --- acquisition: one typed source, one entry point ---------------------------------------


@dataclass(frozen=True)
class CollateralSource:
    """Where a quote's collateral comes from: exactly one of a file, a cache directory of
    ``<tee>-<FMSPC>-<ca>.json`` files, or a PCS/PCCS (optionally with an on-disk cache)."""

    file: Path | None = None
    directory: Path | None = None
    pccs: str | None = None
    cache_dir: Path | None = None
    root_crl_url: str | None = None

    def __post_init__(self) -> None:
        given = [x for x in (self.file, self.directory, self.pccs) if x is not None]
        if len(given) > 1:
            raise InputError("use either --collateral or --pccs, not both", location="--pccs")
        if not given:
            raise InputError(
                "need collateral: --collateral FILE|DIR (offline) or --pccs URL",
                location="--collateral",
            )
        if (self.cache_dir or self.root_crl_url) and self.pccs is None:
            flag = "--cache-dir" if self.cache_dir else "--root-crl-url"
            raise InputError(f"{flag} applies to --pccs only", location=flag)

    @classmethod
    def from_flags(
        cls,
        collateral: str | None = None,
        pccs: str | None = None,
        *,
        cache_dir: str | None = None,
        root_crl_url: str | None = None,
    ) -> CollateralSource:
        """``--collateral FILE|DIR`` (a directory is a cache) or ``--pccs URL``."""
        if collateral is not None and pccs is not None:
            raise InputError("use either --collateral or --pccs, not both", location="--pccs")
        path = Path(collateral) if collateral is not None else None
        is_dir = path is not None and path.is_dir()
        return cls(
            file=path if path is not None and not is_dir else None,
            directory=path if is_dir else None,
            pccs=pccs,
            cache_dir=Path(cache_dir) if cache_dir is not None else None,
            root_crl_url=root_crl_url,
        )

    def describe(self) -> str:
        if self.file is not None:
            return f"file {self.file}"
        if self.directory is not None:
            return f"directory {self.directory}"
        return f"PCS/PCCS {self.pccs}"


def collateral_key(quote: DcapQuote) -> tuple[str, bytes, str]:
    """(TEE, FMSPC, PCK CA kind) -- what a quote's collateral is issued for -- read from the
    PCK chain the quote carries (certification data type 5)."""
    from cryptography import x509

    from sealfeed.attest.pck import parse_pck_extension

    pem = quote.signature_data.pck_chain_pem
    if pem is None:
        raise InputError("the quote carries no PCK chain to find its FMSPC", location="quote")
    try:
        certs = x509.load_pem_x509_certificates(pem.rstrip(b"\x00"))
    except ValueError as exc:
        raise InputError(f"PCK chain in the quote is not PEM: {exc}", location="quote") from None
    fmspc = parse_pck_extension(certs[0]).fmspc
    ca = (
        "processor"
        if len(certs) > 1 and "Processor" in certs[1].subject.rfc4514_string()
        else "platform"
    )
    return quote.tee, fmspc, ca


def obtain_collateral(
    source: CollateralSource, quote: DcapQuote, now: datetime | None
) -> tuple[Collateral, str]:
    """The collateral for ``quote`` from ``source``; returns it and how it was obtained.

    ``now`` is the verification time, used only to judge cache freshness; ``None`` means
    "not chosen yet" (``--at collateral``): cached files are taken as they are and a
    PCS/PCCS is always asked. Nothing here judges validity -- :func:`verify_quote` does.
    Unreadable or missing local collateral is bad input (exit 2); an unreachable or
    misbehaving PCS/PCCS is an external failure (exit 3)."""
    if source.file is not None:
        return load_collateral(source.file), f"file {source.file}"
    tee, fmspc, ca = collateral_key(quote)
    if source.directory is not None:
        cache = CollateralCache(source.directory)
        path = cache.path(tee, fmspc, ca)
        coll = cache.get(tee, fmspc, ca, now) if now is not None else None
        if coll is None and path.is_file():
            coll = load_collateral(path)  # stale is still evidence; verify_quote judges it
        if coll is None:
            raise InputError(
                f"no collateral for this quote in the directory: expected {path.name} "
                f"({tee}, FMSPC {fmspc.hex().upper()}, {ca} CA)",
                location=str(source.directory),
            )
        return coll, f"directory {path}"
    assert source.pccs is not None
    import asyncio

    coll, how = asyncio.run(
        get_collateral(
            source.pccs,
            tee=tee,
            fmspc=fmspc,
            ca=ca,
            now=now,
            cache_dir=source.cache_dir,
            root_crl_url=source.root_crl_url,
        )
    )
    return coll, f"{how} from {source.pccs}"


def collateral_issue_time(coll: Collateral) -> datetime:
    """The latest issueDate / thisUpdate inside the collateral: the earliest time at which
    all of it exists (``--at collateral``, for archived samples)."""
    from cryptography import x509

    from sealfeed.attest.tcbinfo import _Obj

    times = []
    for text, key in ((coll.tcb_info, "tcbInfo"), (coll.qe_identity, "enclaveIdentity")):
        try:
            times.append(_Obj(json.loads(text), key, key).get_time("issueDate"))
        except ValueError:
            raise InputError(f"{key} is not JSON", location="collateral") from None
    for der in (coll.root_ca_crl, coll.pck_crl):
        try:
            times.append(x509.load_der_x509_crl(der).last_update_utc)
        except ValueError:
            raise InputError("CRL is not DER", location="collateral") from None
    return max(times)


__all__ = [
    "INTEL_PCS_URL",
    "Collateral",
    "CollateralCache",
    "CollateralSource",
    "PcsEndpoints",
    "cache_key",
    "collateral_issue_time",
    "collateral_key",
    "collateral_next_update",
    "fetch_collateral",
    "get_collateral",
    "load_collateral",
    "obtain_collateral",
]
