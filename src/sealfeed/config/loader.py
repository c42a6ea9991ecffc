"""Fail-closed loading: the only way any service gets its configuration.

Order matters: read bytes (once) -> parse JSON strictly -> locate the solution object ->
verify its signature with the trusted key -> only then validate the schema and build typed
objects -> resolve secret files. Nothing downstream ever sees an unverified value, and
whatever is derived from the document (its object-hash ``config_hash``, which quotes bind)
comes from the very parsed bytes whose signature was checked (:class:`VerifiedConfig`).

Library code: the environment is passed in (:func:`trust_from_args` takes ``env``); only
CLI modules read ``os.environ``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sealfeed.config.model import ApplianceConfig
from sealfeed.config.objecthash import object_hash
from sealfeed.config.schema import no_secret_files, parse_solution
from sealfeed.config.signing import (
    EMBEDDED_SIGNATURE_KEY,
    PublicKey,
    Scheme,
    VerifiedSignature,
    load_public_key,
    scheme_mismatch,
    verify_modern,
    verify_reference,
)
from sealfeed.config.spec import SecretRef
from sealfeed.errors import InputError, VerificationError
from sealfeed.secret import NotLoadedSecret, Secret, ensure_secret_file, read_secret_file

#: A configuration is a few KiB; refuse absurd inputs before parsing them.
MAX_CONFIG_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Trust:
    """What the configuration must be signed by."""

    public_key: PublicKey
    source: str


@dataclass(frozen=True)
class ConfigDocument:
    path: Path
    document: dict[str, Any]
    solution: dict[str, Any]
    #: True when the file is ``{"solution": {...}}`` as Super Protocol deploys it
    wrapped: bool
    #: SHA-256 (hex) of the bytes read from ``path`` -- the only read of the file
    sha256: str = ""


@dataclass(frozen=True)
class VerifiedConfig:
    """A configuration whose signature verified, and everything derived from that one read.

    ``document`` is the parsed top-level JSON whose signature was checked; ``config_hash``
    is object-hash of exactly that document (what ``argsHash`` in a Super Protocol order and
    the appliance binding in report_data commit to, :mod:`sealfeed.attest.binding`). Nothing
    here is re-read from disk, so a file swapped after verification cannot change it."""

    config: ApplianceConfig
    signature: VerifiedSignature
    document: ConfigDocument
    config_hash: str

    @property
    def path(self) -> Path:
        return self.document.path


def trust_from_args(pubkey: str | None, env: Mapping[str, str]) -> Trust:
    """``--pubkey FILE``, else ``CONFIGURATION_PUBLIC_KEY`` (base64 SPKI DER, as the
    reference's image bakes it), else ``CONFIGURATION_PUBLIC_KEY_FILE``, both looked up in
    ``env`` -- the environment the CLI passes in (library code never reads ``os.environ``).
    No key -> exit 2."""
    if pubkey:
        path = Path(pubkey)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(
                f"cannot read public key: {exc.strerror}", location=str(path)
            ) from None
        return Trust(load_public_key(data, location=str(path)), str(path))
    inline = env.get("CONFIGURATION_PUBLIC_KEY", "").strip()
    if inline:
        key = load_public_key(
            inline.encode("ascii", "replace"), location="CONFIGURATION_PUBLIC_KEY"
        )
        return Trust(key, "env CONFIGURATION_PUBLIC_KEY")
    file_env = env.get("CONFIGURATION_PUBLIC_KEY_FILE", "").strip()
    if file_env:
        return trust_from_args(file_env, env={})
    raise InputError(
        "no trusted public key: pass --pubkey FILE or set CONFIGURATION_PUBLIC_KEY "
        "(refusing to read an unverifiable configuration)",
        location="--pubkey",
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


class _NumberTooLong(ValueError):
    pass


def _int_parser(text: str) -> Any:
    def parse_int(digits: str) -> int:
        limit = sys.get_int_max_str_digits()
        n = len(digits.lstrip("-"))
        if limit and n > limit:
            at = text.find(digits)
            line = text.count("\n", 0, at) + 1
            col = at - text.rfind("\n", 0, at)
            raise _NumberTooLong(
                f"an integer with {n:,} digits at line {line} column {col}; numbers longer "
                f"than {limit:,} digits are not accepted"
            )
        return int(digits)

    return parse_int


def parse_json_bytes(data: bytes, *, location: str) -> Any:
    """Strict JSON: UTF-8, no NaN/Infinity, no duplicate keys (parser-differential safety),
    no integers beyond Python's conversion limit (named, with their position)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 (byte {exc.start})", location=location) from None
    try:
        return json.loads(
            text,
            parse_constant=_reject_constant,
            object_pairs_hook=_no_duplicates,
            parse_int=_int_parser(text),
        )
    except _NumberTooLong as exc:
        raise InputError(str(exc), location=location) from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", location=location
        ) from None
    except (ValueError, RecursionError) as exc:
        raise InputError(f"invalid JSON: {exc}", location=location) from None


def read_config_document(path: str | os.PathLike[str]) -> ConfigDocument:
    p = Path(path)
    try:
        with p.open("rb") as fh:
            data = fh.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise InputError("configuration file does not exist", location=str(p)) from None
    except OSError as exc:
        raise InputError(f"cannot read configuration: {exc.strerror}", location=str(p)) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise InputError(f"larger than {MAX_CONFIG_BYTES} bytes", location=str(p))
    doc = parse_json_bytes(data, location=str(p))
    if not isinstance(doc, dict):
        raise InputError("top level must be a JSON object", location=str(p))
    # Super Protocol delivers {"solution": {...}} (reference read-configuration.js reads
    # `.solution`); configuration-signer writes the bare object. Accept both, keep the shape.
    digest = hashlib.sha256(data).hexdigest()
    if "solution" in doc:
        if set(doc) != {"solution"} or not isinstance(doc["solution"], dict):
            raise InputError(
                'a wrapped configuration must be exactly {"solution": {...}}', location=str(p)
            )
        return ConfigDocument(p, doc, doc["solution"], wrapped=True, sha256=digest)
    return ConfigDocument(p, doc, doc, wrapped=False, sha256=digest)


def default_signature_path(config_path: str | os.PathLike[str]) -> Path:
    return Path(str(config_path) + ".sig")


def verify_document(
    doc: ConfigDocument, trust: Trust, *, sig_path: str | os.PathLike[str] | None = None
) -> VerifiedSignature:
    """Verify with the scheme the trusted key dictates (a key decides, never the file)."""
    key = trust.public_key
    if key.scheme is Scheme.REFERENCE:
        detached = Path(sig_path) if sig_path else default_signature_path(doc.path)
        if "signature" not in doc.solution and (
            EMBEDDED_SIGNATURE_KEY in doc.solution or detached.is_file()
        ):
            raise scheme_mismatch(Scheme.MODERN, key, f"{doc.path}: signature")
        return verify_reference(doc.solution, key, location=f"{doc.path}: signature")
    if EMBEDDED_SIGNATURE_KEY in doc.solution:
        return verify_modern(
            doc.solution,
            doc.solution[EMBEDDED_SIGNATURE_KEY],
            key,
            location=f"{doc.path}: {EMBEDDED_SIGNATURE_KEY}",
        )
    sp = Path(sig_path) if sig_path else default_signature_path(doc.path)
    try:
        raw = sp.read_bytes()
    except FileNotFoundError:
        if isinstance(doc.solution.get("signature"), str):
            raise scheme_mismatch(Scheme.REFERENCE, key, f"{doc.path}: signature") from None
        raise VerificationError(
            "configuration is not signed: no embedded "
            f"{EMBEDDED_SIGNATURE_KEY} and the detached signature file is missing",
            location=str(sp),
        ) from None
    except OSError as exc:
        raise InputError(f"cannot read signature file: {exc.strerror}", location=str(sp)) from None
    if len(raw) > 64 * 1024:
        raise VerificationError("signature file is too large", location=str(sp))
    try:
        sig_doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise VerificationError("signature file is not JSON", location=str(sp)) from None
    return verify_modern(doc.solution, sig_doc, key, location=str(sp))


#: Which ``{"secretFile"}`` references each consumer resolves, as JSON path prefixes of the
#: solution object: components receive typed sub-objects (conventions.md), and a service
#: reads only its own component's secret files (ADR 0132) -- the aggregator never opens the
#: Chainlink keystore password, the exporter never an exchange key. ``tests/config/
#: test_secret_scopes.py`` proves every secret key of the schema has exactly one consumer.
SECRET_SCOPES: Mapping[str, tuple[str, ...]] = {
    "aggregator": ("priceAggregatorConfig.", "sealfeed.aggregator."),
    "exporter": ("sealfeed.exporter.",),
    "chainlink": ("chainlinkPassword", "chainlinkKeystorePassword", "faucetPrivateKey"),
    "postgres": ("pgPassword",),
    #: the supervision tree (``s6 render``, ``up``): the model only
    "supervision": (),
    #: the link owns no secret; it reads the exporter's push credentials (SECRET_READERS)
    "link": (),
}

#: Secrets a consumer reads that another consumer's scope owns (ADR 0146): the link pushes
#: its metrics with the exporter's receiver and credentials but runs as its own account.
#: Only these prefixes -- not the owner's whole scope -- are resolved for the reader, and
#: ``secrets import --reader-dir`` gives the reader its own 0600 copy of exactly those files.
SECRET_READERS: Mapping[str, tuple[str, ...]] = {
    "link": ("sealfeed.exporter.metricsPush.",),
}


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p if p.endswith(".") else p + ".") for p in prefixes)


def reads(consumer: str, path: str) -> bool:
    """Whether ``consumer`` resolves the secret at JSON ``path``: its own scope's, and the
    ones :data:`SECRET_READERS` lends it."""
    return consumer_of(path) == consumer or _under(path, SECRET_READERS.get(consumer, ()))


def consumer_of(path: str) -> str | None:
    """The consumer whose scope holds the secret at JSON ``path`` (None: nobody's)."""
    for consumer, prefixes in SECRET_SCOPES.items():
        if _under(path, prefixes):
            return consumer
    return None


def secret_resolver(
    secrets_dir: str | os.PathLike[str] | None, *, consumer: str | None = None
) -> Any:
    """Resolver reading ``{"secretFile"}`` references under ``secrets_dir``. With ``consumer``
    only the references that consumer :func:`reads` are read (its scope, and what
    :data:`SECRET_READERS` lends it); the others become :class:`~sealfeed.secret.
    NotLoadedSecret` (their files are never opened)."""
    if consumer is not None and consumer not in SECRET_SCOPES:
        raise ValueError(f"unknown secret consumer {consumer!r}")
    if secrets_dir is None:
        inner = no_secret_files
    else:
        base = Path(secrets_dir)

        def inner(ref: SecretRef, path: str) -> Secret:
            try:
                if ref.generate:
                    return ensure_secret_file(base / ref.file)
                return read_secret_file(base / ref.file, what=f"secret for {path}")
            except InputError as exc:
                raise InputError(f"{path}: {exc.message}", location=exc.location) from None

    if consumer is None:
        return inner

    def scoped(ref: SecretRef, path: str) -> Secret:
        if not reads(consumer, path):
            return NotLoadedSecret(path)
        return inner(ref, path)

    return scoped


def unread_secret(ref: SecretRef, path: str) -> Secret:
    """Resolver for auditors and schema checks: the reference is noted, the file not read
    (verifying a configuration must not need the operator's secrets)."""
    return Secret(f"<secret file {ref.file!r} not read>")


@dataclass(frozen=True)
class SecretFileRef:
    """One ``{"secretFile"}`` reference of a configuration: where it sits, what file it
    names, whether the appliance generates it, and which consumer reads it."""

    path: str
    file: str
    generate: bool
    consumer: str | None


def secret_file_refs(solution: Mapping[str, Any]) -> tuple[SecretFileRef, ...]:
    """Every ``{"secretFile"}`` reference of a *verified* solution object, in schema order
    (nothing is read; the secrets-import step plans ownership and imports from these)."""
    found: list[SecretFileRef] = []

    def note(ref: SecretRef, path: str) -> Secret:
        found.append(SecretFileRef(path, ref.file, ref.generate, consumer_of(path)))
        return Secret(f"<secret file {ref.file!r} not read>")

    parse_solution(solution, note)
    return tuple(found)


def _parse(
    doc: ConfigDocument,
    secrets_dir: str | os.PathLike[str] | None,
    read_secrets: bool = True,
    consumer: str | None = None,
) -> ApplianceConfig:
    declared = doc.solution.get("spSecretsDir")
    sdir = secrets_dir or (declared if isinstance(declared, str) else None)
    resolver = secret_resolver(sdir, consumer=consumer) if read_secrets else unread_secret
    cfg = parse_solution(doc.solution, resolver, location=str(doc.path))
    if secrets_dir:
        cfg = dataclasses.replace(cfg, secrets_dir=str(secrets_dir))
    return cfg


def load_config_unverified(
    path: str | os.PathLike[str],
    *,
    secrets_dir: str | os.PathLike[str] | None = None,
    read_secrets: bool = True,
) -> ApplianceConfig:
    """Schema check only (``sealfeed config check``). Services must not call this."""
    return _parse(read_config_document(path), secrets_dir, read_secrets)


def load_and_verify(
    path: str | os.PathLike[str],
    trust: Trust,
    *,
    secrets_dir: str | os.PathLike[str] | None = None,
    sig_path: str | os.PathLike[str] | None = None,
    read_secrets: bool = True,
    consumer: str | None = None,
) -> VerifiedConfig:
    """:func:`load_verified_config` that also returns what was verified: the signature facts,
    the verified document and its object-hash, all from one read of ``path``.

    ``read_secrets=False`` (auditors, ``sealfeed verify``, ``attest quote --bind-config``):
    ``{"secretFile"}`` references are validated but their files are not read. ``consumer``
    (a :data:`SECRET_SCOPES` key): only that component's secret files are read."""
    doc = read_config_document(path)
    sig = verify_document(doc, trust, sig_path=sig_path)
    cfg = _parse(doc, secrets_dir, read_secrets, consumer)
    return VerifiedConfig(cfg, sig, doc, object_hash(doc.document))


def load_verified_config(
    path: str | os.PathLike[str],
    trust: Trust,
    *,
    secrets_dir: str | os.PathLike[str] | None = None,
    sig_path: str | os.PathLike[str] | None = None,
    consumer: str | None = None,
) -> ApplianceConfig:
    """Read, verify (fail closed), validate and type the appliance configuration.
    ``consumer``: resolve only that component's secret files (:data:`SECRET_SCOPES`)."""
    return load_and_verify(
        path, trust, secrets_dir=secrets_dir, sig_path=sig_path, consumer=consumer
    ).config


__all__ = [
    "MAX_CONFIG_BYTES",
    "SECRET_READERS",
    "SECRET_SCOPES",
    "ConfigDocument",
    "SecretFileRef",
    "Trust",
    "VerifiedConfig",
    "consumer_of",
    "default_signature_path",
    "load_and_verify",
    "load_config_unverified",
    "load_verified_config",
    "parse_json_bytes",
    "read_config_document",
    "reads",
    "secret_file_refs",
    "secret_resolver",
    "trust_from_args",
    "unread_secret",
    "verify_document",
]
