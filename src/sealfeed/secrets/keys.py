"""The appliance's secrets-import key: an X25519 key generated inside the TEE (IO edge).

Private half: ``<secrets>/sealfeed/import.key`` (base64 of the 32 raw bytes, 0600 root, never
leaves the secrets directory -- on Super Protocol the encrypted Distributed Secrets volume
keeps it across orders of a solution offer). Public half: ``<secrets>/sealfeed/import.pub``
(base64, 0644): the start-up attestation step binds it into the quote (ADR 0134) and the
document publishes it, so operators can seal to it (ADR 0131).
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path
from typing import Any

from sealfeed.errors import InputError
from sealfeed.secret import Secret, read_secret_file

#: relative to the secrets directory
IMPORT_KEY = "sealfeed/import.key"
IMPORT_PUB = "sealfeed/import.pub"


def _private_from(secret: Secret, where: str) -> Any:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    try:
        raw = base64.b64decode(secret.reveal(), validate=True)
        return X25519PrivateKey.from_private_bytes(raw)
    except (ValueError, binascii.Error):
        raise InputError("import key is not a base64 X25519 private key", location=where) from None


def load_import_key(secrets_dir: str | os.PathLike[str]) -> Any:
    """The private key (InputError when absent or malformed)."""
    path = Path(secrets_dir) / IMPORT_KEY
    return _private_from(read_secret_file(path, what="import key"), str(path))


def public_bytes(private_key: Any) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw: bytes = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return raw


def ensure_import_key(secrets_dir: str | os.PathLike[str]) -> tuple[Any, bool]:
    """The import key, generated on first use (0600; concurrent starts agree on one key);
    (private key, created). The public half is (re)written next to it, world-readable."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    from sealfeed.fsutil import atomic_write

    base = Path(secrets_dir)
    path = base / IMPORT_KEY
    created = not path.exists()
    if created:
        fresh = X25519PrivateKey.generate().private_bytes(
            Encoding.Raw, PrivateFormat.Raw, NoEncryption()
        )
        # write-once: a value generated here, linked into place (ensure_secret_file's rule)
        _write_once(path, base64.b64encode(fresh).decode())
    key = load_import_key(base)
    pub = base64.b64encode(public_bytes(key)).decode() + "\n"
    pub_path = base / IMPORT_PUB
    try:
        if not pub_path.is_file() or pub_path.read_text(encoding="ascii") != pub:
            atomic_write(pub_path, pub, mode=0o644)
    except OSError as exc:
        raise InputError(f"cannot write the import public key: {exc.strerror}",
                         location=str(pub_path)) from None  # fmt: skip
    return key, created


def _write_once(path: Path, value: str) -> None:
    import secrets as stdlib_secrets

    from sealfeed.fsutil import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)  # the import key's own directory: root only
    tmp = path.with_name(f".{path.name}.{stdlib_secrets.token_hex(6)}.new")
    try:
        atomic_write(tmp, value + "\n", mode=0o600)
        os.link(tmp, path)
    except FileExistsError:
        pass  # another start generated it first; theirs is the key
    except OSError as exc:
        raise InputError(f"cannot create the import key: {exc.strerror}",
                         location=str(path)) from None  # fmt: skip
    finally:
        tmp.unlink(missing_ok=True)


__all__ = [
    "IMPORT_KEY",
    "IMPORT_PUB",
    "ensure_import_key",
    "load_import_key",
    "public_bytes",
]
