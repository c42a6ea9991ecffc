"""The link without root: a forked quote helper keeps root and signs only link identities.

configfs-tsm report entries are root's (Linux ``Documentation/ABI/testing/configfs-tsm``;
``inblob`` is write-only for its owner), and the link is the one component that accepts
connections from other machines. So ``sealfeed link serve --user ACCOUNT`` (the image does
this, ADR 0145) starts as root, forks :func:`serve_quote_helper` and drops the main process
to ACCOUNT *before* it reads the configuration, a secret or opens a socket -- the pattern of
the exporter's /proc reader (ADR 0133).

The helper never takes report_data. It verifies the signed configuration itself (before it
answers anything) and accepts exactly one request, ``{"spki": HEX, "issued_at": N}``: an
Ed25519 SubjectPublicKeyInfo and a Unix time within :data:`MAX_SKEW_SECONDS` of its own
clock. It computes :func:`sealfeed.attest.binding.peer_report_data` over the key, the
configuration hash *it* verified and that time, and asks configfs-tsm for the quote. A
compromised link can therefore obtain quotes only for the true configuration under the
link's domain prefix (``sealfeed-peer-v1``) -- never the appliance binding
(:func:`~sealfeed.attest.binding.appliance_report_data`) nor any other 64 bytes -- and only
:data:`QUOTE_BURST` in a row, then one per quarter re-attestation period.

Wire format over a socketpair, one JSON line each way: first the helper's hello
(``{"ok": true, "config_hash": ...}`` or ``{"ok": false, "error": ..., "exit": N}``), then per
request ``{"quote": HEX}`` or ``{"error": ...}``. A request that is not exactly that object
(another key such as ``report_data``, not JSON, over :data:`MAX_LINE` bytes) is answered
``{"error": ..., "fatal": true}`` and ends the helper: a correct link never sends one.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sealfeed.errors import ExitCode, ExternalError, InputError, SealfeedError, VerificationError
from sealfeed.fsutil import owned_dir
from sealfeed.privsep import HelperChannel, account_ids, drop_privileges, fork_helper

#: an issue time further than this from the helper's clock is refused (the link stamps the
#: time right before it asks, so only a skewed or lying caller is this far off)
MAX_SKEW_SECONDS = 30
#: quotes in a row; then the bucket refills one per quarter re-attestation period
QUOTE_BURST = 3
#: the refill interval never drops below this, whatever the period
MIN_QUOTE_INTERVAL_SECONDS = 1.0
#: a request line: a 44-byte Ed25519 SPKI in hex and a time fit in well under 1 KiB
MAX_LINE = 4096
#: SubjectPublicKeyInfo DER size bound (Ed25519's is 44 bytes)
MAX_SPKI_BYTES = 256
#: how long the link waits for one answer (a TDX quote takes well under a second; the
#: quoting enclave may be slow on a loaded host)
ANSWER_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class HelperSettings:
    """What the privileged side binds and how often it may quote."""

    config_hash: str
    tsm_root: str
    reattest_seconds: float

    @property
    def quote_interval(self) -> float:
        return max(MIN_QUOTE_INTERVAL_SECONDS, self.reattest_seconds / 4)


class Refused(Exception):
    """A request the helper does not serve; ``fatal``: a protocol violation (it then ends)."""

    def __init__(self, reason: str, *, fatal: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fatal = fatal


class RateLimit:
    """Token bucket: ``burst`` quotes at once, then one per ``interval`` seconds."""

    def __init__(self, burst: int, interval: float, clock: Callable[[], float]) -> None:
        self.burst, self.interval, self.clock = burst, interval, clock
        self.tokens = float(burst)
        self.last = clock()

    def take(self) -> None:
        now = self.clock()
        self.tokens = min(float(self.burst), self.tokens + (now - self.last) / self.interval)
        self.last = now
        if self.tokens < 1:
            wait = (1 - self.tokens) * self.interval
            raise Refused(f"rate limit: at most {self.burst} quotes in a row, then one every "
                          f"{self.interval:g} s (next in {wait:.1f} s)")  # fmt: skip
        self.tokens -= 1


def parse_request(line: bytes, *, now: float) -> tuple[bytes, int]:
    """(SPKI DER, issued_at) of one request line, or :class:`Refused` (pure)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        doc = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        raise Refused("the request is not JSON", fatal=True) from None
    if not isinstance(doc, dict) or set(doc) != {"spki", "issued_at"}:
        keys = sorted(doc) if isinstance(doc, dict) else type(doc).__name__
        raise Refused(f"a request is exactly {{spki, issued_at}}, got {keys}; the helper "
                      "computes report_data itself", fatal=True)  # fmt: skip
    spki_hex, issued_at = doc["spki"], doc["issued_at"]
    if not isinstance(spki_hex, str) or len(spki_hex) > 2 * MAX_SPKI_BYTES:
        raise Refused("spki must be a hex string of a SubjectPublicKeyInfo", fatal=True)
    if type(issued_at) is not int or not 0 <= issued_at < 1 << 64:
        raise Refused("issued_at must be an unsigned 64-bit integer", fatal=True)
    try:
        spki = bytes.fromhex(spki_hex)
        key = serialization.load_der_public_key(spki)
    except ValueError:
        raise Refused("spki is not a DER SubjectPublicKeyInfo") from None
    if not isinstance(key, Ed25519PublicKey):
        raise Refused("spki is not an Ed25519 key (link identities are Ed25519)")
    canonical = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if canonical != spki:
        raise Refused("spki is not in canonical DER")
    if abs(issued_at - now) > MAX_SKEW_SECONDS:
        raise Refused(f"issued_at {issued_at} is more than {MAX_SKEW_SECONDS} s from the "
                      f"helper's clock ({int(now)})")  # fmt: skip
    return spki, issued_at


def serve_quote_helper(
    sock: socket.socket,
    prepare: Callable[[], HelperSettings],
    *,
    request_quote: Callable[[bytes, str], bytes] | None = None,
    clock: Callable[[], float] = time.time,
) -> None:
    """The privileged side (see the module docstring). ``prepare`` verifies the configuration
    and returns what to bind; its error is the hello. ``request_quote(report_data, root)``
    defaults to configfs-tsm (:func:`sealfeed.attest.tsm.request_quote`). Returns at EOF or
    after a fatal request."""
    from sealfeed.link.identity import direct_quoter

    if request_quote is None:
        from sealfeed.attest.tsm import request_quote as tsm_quote

        def request_quote(report_data: bytes, root: str) -> bytes:
            return tsm_quote(report_data, root=root)

    stream = sock.makefile("rwb", buffering=0)

    def send(doc: dict[str, Any]) -> None:
        stream.write(json.dumps(doc, separators=(",", ":")).encode() + b"\n")

    try:
        settings = prepare()
    except SealfeedError as exc:
        with contextlib.suppress(OSError):
            send({"ok": False, "error": str(exc), "exit": int(exc.exit_code)})
        return
    except Exception as exc:  # an unexpected failure is still an answer, never a hang
        with contextlib.suppress(OSError):
            send({"ok": False, "error": f"{type(exc).__name__}: {exc}", "exit": 3})
        return
    limit = RateLimit(QUOTE_BURST, settings.quote_interval, time.monotonic)
    tsm_root = settings.tsm_root
    quoter = direct_quoter(lambda rd: request_quote(rd, tsm_root), settings.config_hash)
    try:
        send({"ok": True, "config_hash": settings.config_hash})
        while True:
            line = stream.readline(MAX_LINE + 1)
            if not line:
                return
            try:
                if len(line) > MAX_LINE or not line.endswith(b"\n"):
                    raise Refused(f"request longer than {MAX_LINE} bytes", fatal=True)
                spki, issued_at = parse_request(line, now=clock())
                limit.take()
                quote = quoter(spki, issued_at)  # the binding computed here, never taken
            except Refused as r:
                send({"error": r.reason, **({"fatal": True} if r.fatal else {})})
                if r.fatal:
                    return
                continue
            except SealfeedError as exc:  # configfs-tsm missing or failing: the link retries
                send({"error": str(exc)})
                continue
            send({"quote": quote.hex()})
    except OSError:
        return


class QuoteHelper(HelperChannel):
    """The unprivileged side: ``helper(spki, issued_at) -> quote`` (a
    :data:`sealfeed.link.identity.PeerQuoter`), thread-safe (identities are made in a worker
    thread)."""

    def __init__(self, sock: socket.socket, pid: int) -> None:
        sock.settimeout(ANSWER_TIMEOUT_SECONDS)
        super().__init__(sock, pid)
        self._lock = threading.Lock()
        self._hello: dict[str, Any] | None = None

    def _line(self) -> dict[str, Any]:
        try:
            line = self._stream.readline(MAX_LINE * 64)
        except TimeoutError:
            raise ExternalError(
                f"the quote helper did not answer within {ANSWER_TIMEOUT_SECONDS:g} s"
            ) from None
        except OSError as exc:
            raise ExternalError(f"the quote helper is gone: {exc.strerror}") from None
        if not line:
            raise ExternalError("the quote helper is gone (EOF)")
        try:
            doc = json.loads(line)
        except ValueError:
            raise ExternalError("the quote helper answered nonsense") from None
        if not isinstance(doc, dict):
            raise ExternalError("the quote helper answered nonsense")
        return doc

    def hello(self) -> dict[str, Any]:
        with self._lock:
            if self._hello is None:
                self._hello = self._line()
            return self._hello

    def expect(self, config_hash: str) -> None:
        """Check that the helper verified the configuration this process verified: the
        quotes it signs bind *its* hash, peers compare it with the one we present."""
        hello = self.hello()
        if not hello.get("ok"):
            error = str(hello.get("error", "failed"))
            code = hello.get("exit")
            if code == ExitCode.USAGE:
                raise InputError(f"quote helper: {error}")
            if code == ExitCode.FAILED:
                raise VerificationError(f"quote helper: {error}")
            raise ExternalError(f"quote helper: {error}")
        if hello.get("config_hash") != config_hash:
            raise VerificationError(
                "the configuration changed while the link started: the quote helper verified "
                f"{hello.get('config_hash')}, this process {config_hash}; restart the link"
            )

    def __call__(self, spki: bytes, issued_at: int) -> bytes:
        self.hello()
        with self._lock:
            try:
                req = json.dumps({"spki": spki.hex(), "issued_at": issued_at})
                self._stream.write(req.encode() + b"\n")
            except OSError as exc:
                raise ExternalError(f"the quote helper is gone: {exc.strerror}") from None
            doc = self._line()
        if "quote" in doc:
            try:
                return bytes.fromhex(str(doc["quote"]))
            except ValueError:
                raise ExternalError("the quote helper answered nonsense") from None
        raise ExternalError(f"the quote helper refused: {doc.get('error', 'no reason')}")


def start_quote_helper(prepare: Callable[[], HelperSettings]) -> QuoteHelper:
    """Fork the privileged quote helper (call as root, before any thread, configuration,
    secret or socket exists in this process); ``prepare`` runs in the child."""
    parent, pid = fork_helper(functools.partial(serve_quote_helper, prepare=prepare))
    return QuoteHelper(parent, pid)


def hand_over_dir(path: str | os.PathLike[str], account: str) -> None:
    """As root, before dropping: ``path`` exists, is a real directory (not a link), and
    belongs to ``account``, 0750 (its readers -- ``chainlink render``, ``sealfeed status`` --
    run as root). Only the directory itself is chowned; what the link creates below it is
    its own."""
    owned_dir(path, mode=0o750, owner=account_ids(account))


__all__ = [
    "MAX_SKEW_SECONDS",
    "QUOTE_BURST",
    "HelperSettings",
    "QuoteHelper",
    "RateLimit",
    "Refused",
    "drop_privileges",
    "hand_over_dir",
    "parse_request",
    "serve_quote_helper",
    "start_quote_helper",
]
