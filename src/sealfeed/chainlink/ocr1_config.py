"""OCR1 ``setConfig`` inputs (pure; randomness injected): the encoded off-chain config with
the shared secret encrypted to every oracle, and the two call forms an OCR1 aggregator takes.

Facts from libocr ``offchainreporting/internal/config`` (the version Chainlink 2.27 pins):

* ``setConfig(address[] signers, address[] transmitters, uint8 threshold,
  uint64 encodedConfigVersion, bytes encoded)`` -- the OCR1 ``OffchainAggregator``
  (``confighelper.ContractSetConfigArgs``); ``threshold`` = f, ``encodedConfigVersion`` = 1.
* ``encoded`` = ABI ``Pack`` of one tuple ``setConfigEncodedComponents`` (``abiencode.go``):
  ``(int64 deltaProgress, int64 deltaResend, int64 deltaRound, int64 deltaGrace,
  int64 deltaC, uint64 alphaPPB, int64 deltaStage, uint8 rMax, uint8[] s,
  bytes32[] offchainPublicKeys, string peerIDs, (bytes32 diffieHellmanPoint,
  bytes32 sharedSecretHash, bytes16[] encryptions))`` with durations in nanoseconds and the
  peer ids comma-joined (``encode.go``).
* The 16-byte shared secret is encrypted per oracle (``shared_secret_encrypt_xxx.go``): an
  ephemeral X25519 scalar ``sk``; ``diffieHellmanPoint = X25519(sk, basepoint)``; for each
  oracle's config public key ``key = keccak256(X25519(sk, pk))[:16]`` and
  ``encryption = AES-128(key, secret)`` (one block); ``sharedSecretHash = keccak256(secret)``.
  The secret itself never leaves this function.
* Super Protocol's aggregator (the reference's ``abis/AccessControlledOffchainAggregator.json``,
  used by its ``set-config.js``) instead takes ``setConfig(ConsensusDonConfig)`` =
  ``(address[] signers, address[] transmitters, uint8 threshold, uint8[] s,
  bytes32[] offchainPublicKeys, string peerIDs, (bytes32,bytes32,bytes16[]))`` and sets the
  timing parameters itself; both forms are printed.

Parameter checks are libocr's ``checkPublicConfigParameters`` plus the chain limits of
``checkPublicConfigParametersForChain`` for a chain libocr does not list (opBNB 5611/204 are
not listed, so "slow updates" applies; ADR 0118).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from sealfeed.chainlink import abi
from sealfeed.chainlink.keystore import keccak256
from sealfeed.errors import InputError

RandomBytes = Callable[[int], bytes]

ENCODED_CONFIG_VERSION = 1
SHARED_SECRET_SIZE = 16
#: libocr offchainreporting/types MaxOracles
MAX_ORACLES = 31
#: libocr encode.go configSizeBound
CONFIG_SIZE_BOUND = 20_000

ENCODED_COMPONENTS = (
    "(int64,int64,int64,int64,int64,uint64,int64,uint8,uint8[],bytes32[],string,"
    "(bytes32,bytes32,bytes16[]))"
)
SET_CONFIG_TYPES = ("address[]", "address[]", "uint8", "uint64", "bytes")
DON_CONFIG = "(address[],address[],uint8,uint8[],bytes32[],string,(bytes32,bytes32,bytes16[]))"

SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
#: checkPublicConfigParametersForChain, chainTypeSlowUpdates (any chain libocr does not list)
SLOW_CHAIN_MINIMUMS = {
    "deltaC": 10 * MINUTE,
    "deltaStage": 10 * SECOND,
    "deltaRound": 20 * SECOND,
    "deltaProgress": 23 * SECOND,
    "deltaResend": 10 * SECOND,
}
#: chainTypePrivateTestnet: "do whatever you want" (SimulatedBackend, Geth Local Testnet)
PRIVATE_TESTNETS = frozenset({1337, 7418})

_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": SECOND, "m": MINUTE, "h": HOUR}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")


def parse_duration(text: str, *, location: str) -> int:
    """Go ``time.ParseDuration`` for non-negative values: ``1h30m``, ``35s``, ``500ms`` -> ns."""
    value = text.strip()
    if value == "0":
        return 0
    pos, total = 0, 0.0
    for m in _DURATION.finditer(value):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(value) or not value:
        raise InputError(f"{text!r} is not a duration like 35s, 10m or 1h30m", location=location)
    return round(total)


def format_duration(ns: int) -> str:
    """Go ``time.Duration.String`` for whole-millisecond values (``1h0m0s``, ``35s``, ``500ms``)."""
    if ns % SECOND:
        return f"{ns / 1_000_000:g}ms"
    s = ns // SECOND
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    if h:
        return f"{h}h{m}m{s}s"
    if m:
        return f"{m}m{s}s"
    return f"{s}s"


@dataclass(frozen=True)
class OCR1Params:
    """libocr OCR1 ``PublicConfig`` timing and reporting parameters (durations in ns).

    Defaults (ADR 0118): a round every 30 s, a new report when the median moves 0.5 %
    (``alphaPPB``) or ``deltaC`` = 1 h has passed, within libocr's limits for a chain it does
    not list.
    """

    delta_progress: int = 35 * SECOND
    delta_resend: int = 17 * SECOND
    delta_round: int = 30 * SECOND
    delta_grace: int = 12 * SECOND
    delta_c: int = HOUR
    alpha_ppb: int = 5_000_000
    delta_stage: int = 60 * SECOND
    r_max: int = 6
    #: transmission schedule; None = the reference's [1, 2, 2, ...] (one per oracle)
    s: tuple[int, ...] | None = None

    def schedule(self, n: int) -> tuple[int, ...]:
        return self.s if self.s is not None else tuple(1 if i == 0 else 2 for i in range(n))

    def to_dict(self, n: int) -> dict[str, Any]:
        return {
            "deltaProgress": format_duration(self.delta_progress),
            "deltaResend": format_duration(self.delta_resend),
            "deltaRound": format_duration(self.delta_round),
            "deltaGrace": format_duration(self.delta_grace),
            "deltaC": format_duration(self.delta_c),
            "alphaPPB": self.alpha_ppb,
            "deltaStage": format_duration(self.delta_stage),
            "rMax": self.r_max,
            "s": list(self.schedule(n)),
        }


def check_params(p: OCR1Params, *, n: int, f: int, chain_id: int) -> None:
    """libocr ``checkPublicConfigParameters`` + the unknown-chain limits; InputError naming
    the parameter, before anything is encoded."""

    def bad(name: str, why: str) -> InputError:
        return InputError(why, location=f"ocr1.{name}")

    for name, value in (
        ("deltaC", p.delta_c),
        ("deltaStage", p.delta_stage),
        ("deltaRound", p.delta_round),
        ("deltaProgress", p.delta_progress),
        ("deltaResend", p.delta_resend),
        ("deltaGrace", p.delta_grace),
    ):
        if value < 0:
            raise bad(name, "must be non-negative")
    if f < 0 or f * 3 >= n:
        raise bad("f", f"must be non-negative and less than n/3 (n = {n})")
    if not n <= MAX_ORACLES:
        raise bad("n", f"at most {MAX_ORACLES} oracles (libocr MaxOracles), got {n}")
    if not p.delta_grace < p.delta_round:
        raise bad("deltaGrace", "must be less than deltaRound")
    if not p.delta_round < p.delta_progress:
        raise bad("deltaRound", "must be less than deltaProgress")
    if not 0 < p.r_max < 255:
        raise bad("rMax", "must be 1..254")
    if not 0 <= p.alpha_ppb < 1 << 64:
        raise bad("alphaPPB", "must fit in 64 bits")
    sched = p.schedule(n)
    if not len(sched) < 1000 or any(not 0 <= x <= MAX_ORACLES for x in sched):
        raise bad("s", f"at most 999 entries, each 0..{MAX_ORACLES}")
    if chain_id in PRIVATE_TESTNETS:
        return
    values = {
        "deltaC": p.delta_c,
        "deltaStage": p.delta_stage,
        "deltaRound": p.delta_round,
        "deltaProgress": p.delta_progress,
        "deltaResend": p.delta_resend,
    }
    for name, minimum in SLOW_CHAIN_MINIMUMS.items():
        if values[name] < minimum:
            raise bad(
                name,
                f"must be at least {format_duration(minimum)} (libocr's limit for chain "
                f"{chain_id})",
            )


@dataclass(frozen=True)
class OCR1Oracle:
    """One oracle's public OCR1 identity, in setConfig order."""

    signer: str  # OCR1 on-chain signing address (0x, EIP-55)
    transmitter: str  # EVM address
    offchain_public_key: bytes  # ed25519, 32 bytes
    config_public_key: bytes  # X25519, 32 bytes
    peer_id: str  # 12D3KooW..., no p2p_ prefix


@dataclass(frozen=True)
class SharedSecretEncryptions:
    diffie_hellman_point: bytes
    shared_secret_hash: bytes
    encryptions: tuple[bytes, ...]

    def as_abi(self) -> tuple[bytes, bytes, list[bytes]]:
        return (self.diffie_hellman_point, self.shared_secret_hash, list(self.encryptions))

    def to_dict(self) -> dict[str, Any]:
        return {
            "diffieHellmanPoint": "0x" + self.diffie_hellman_point.hex(),
            "sharedSecretHash": "0x" + self.shared_secret_hash.hex(),
            "encryptions": ["0x" + e.hex() for e in self.encryptions],
        }


def _aes128_block(key: bytes, block: bytes) -> bytes:
    # one 16-byte block under AES-128, as libocr's aesEncryptBlock (crypto/aes Encrypt)
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305 -- single block
    return enc.update(block) + enc.finalize()


def encrypt_shared_secret(
    config_public_keys: Sequence[bytes], secret: bytes, sk: bytes
) -> SharedSecretEncryptions:
    """libocr ``XXXEncryptSharedSecretInternal``."""
    if len(secret) != SHARED_SECRET_SIZE or len(sk) != 32:
        raise ValueError("shared secret must be 16 bytes and the ephemeral scalar 32")
    eph = x25519.X25519PrivateKey.from_private_bytes(sk)
    point = eph.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    encryptions = []
    for pk in config_public_keys:
        try:
            dh = eph.exchange(x25519.X25519PublicKey.from_public_bytes(pk))
        except ValueError:
            raise InputError("an OCR1 config public key is not a usable X25519 key") from None
        encryptions.append(_aes128_block(keccak256(dh)[:16], secret))
    return SharedSecretEncryptions(point, keccak256(secret), tuple(encryptions))


def set_config_inputs(
    oracles: Sequence[OCR1Oracle],
    params: OCR1Params,
    *,
    f: int,
    chain_id: int,
    random: RandomBytes = os.urandom,
) -> dict[str, Any]:
    """Everything one OCR1 contract's ``setConfig`` takes, with a fresh shared secret (libocr
    draws one per call too): the standard arguments, the encoded config, both calldata forms."""
    n = len(oracles)
    check_params(params, n=n, f=f, chain_id=chain_id)
    # the plaintext secret exists only here; only its encryptions and hash are returned
    secret = random(SHARED_SECRET_SIZE)
    sse = encrypt_shared_secret([o.config_public_key for o in oracles], secret, random(32))
    sched = list(params.schedule(n))
    offchain_keys = [o.offchain_public_key for o in oracles]
    peer_ids = ",".join(o.peer_id for o in oracles)
    encoded = abi.encode_tuple(
        [ENCODED_COMPONENTS],
        [
            (
                params.delta_progress,
                params.delta_resend,
                params.delta_round,
                params.delta_grace,
                params.delta_c,
                params.alpha_ppb,
                params.delta_stage,
                params.r_max,
                sched,
                offchain_keys,
                peer_ids,
                sse.as_abi(),
            )
        ],
    )
    if len(encoded) > CONFIG_SIZE_BOUND:
        raise InputError(f"encoded config is {len(encoded)} bytes (libocr bound 20000)")
    signers = [o.signer for o in oracles]
    transmitters = [o.transmitter for o in oracles]
    standard = (signers, transmitters, f, ENCODED_CONFIG_VERSION, encoded)
    don_config = (signers, transmitters, f, sched, offchain_keys, peer_ids, sse.as_abi())
    return {
        "signers": signers,
        "transmitters": transmitters,
        "threshold": f,
        "encodedConfigVersion": ENCODED_CONFIG_VERSION,
        "encoded": "0x" + encoded.hex(),
        "sharedSecretEncryptions": sse.to_dict(),
        "calldata": "0x" + abi.calldata("setConfig", SET_CONFIG_TYPES, standard).hex(),
        "superProtocolCalldata": "0x" + abi.calldata("setConfig", [DON_CONFIG], [don_config]).hex(),
    }


__all__ = [
    "DON_CONFIG",
    "ENCODED_COMPONENTS",
    "ENCODED_CONFIG_VERSION",
    "MAX_ORACLES",
    "SET_CONFIG_TYPES",
    "OCR1Oracle",
    "OCR1Params",
    "SharedSecretEncryptions",
    "check_params",
    "encrypt_shared_secret",
    "format_duration",
    "parse_duration",
    "set_config_inputs",
]
