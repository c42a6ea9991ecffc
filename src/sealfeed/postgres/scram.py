"""SCRAM-SHA-256 password verifiers as PostgreSQL stores them (pure).

``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`` (base64), PostgreSQL
``src/common/scram-common.c`` ``scram_build_secret``; keys per RFC 5802 §3:
SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, i), ClientKey = HMAC(SaltedPassword,
"Client Key"), StoredKey = SHA-256(ClientKey), ServerKey = HMAC(SaltedPassword, "Server Key").

Provision sends PostgreSQL this verifier instead of the password (``ALTER ROLE ... PASSWORD
'SCRAM-SHA-256$...'`` is stored as is, docs "CREATE ROLE"), so the plaintext never appears in
SQL text or server logs; and it compares a role's stored verifier with the secret file to
decide whether a password changed without touching the role.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re

from sealfeed.errors import InputError
from sealfeed.secret import Secret

#: PostgreSQL's default ``scram_iterations`` (RFC 7677 §4 minimum recommendation).
DEFAULT_ITERATIONS = 4096
#: PostgreSQL uses a 16-byte random salt (``SCRAM_DEFAULT_SALT_LEN``).
SALT_LEN = 16

_VERIFIER_RE = re.compile(
    r"^SCRAM-SHA-256\$(?P<iter>\d+):(?P<salt>[A-Za-z0-9+/=]+)"
    r"\$(?P<stored>[A-Za-z0-9+/=]+):(?P<server>[A-Za-z0-9+/=]+)$"
)


def _check_password(password: Secret) -> str:
    value = password.reveal()
    # SASLprep (RFC 4013) is the identity for printable ASCII; PostgreSQL applies it before
    # hashing, so restricting to printable ASCII keeps our verifier equal to the server's.
    if not value or not all(0x21 <= ord(c) <= 0x7E for c in value):
        raise InputError(
            "database passwords must be non-empty printable ASCII without spaces "
            "(generated ones are URL-safe base64)",
            location="password",
        )
    return value


def _keys(password: str, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("ascii"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return stored_key, server_key


def scram_verifier(
    password: Secret, *, salt: bytes | None = None, iterations: int = DEFAULT_ITERATIONS
) -> str:
    """The verifier PostgreSQL would store for ``password`` (random salt unless given)."""
    value = _check_password(password)
    salt = os.urandom(SALT_LEN) if salt is None else salt
    stored, server = _keys(value, salt, iterations)
    b64 = base64.b64encode
    return (
        f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}"
        f"${b64(stored).decode()}:{b64(server).decode()}"
    )


def verifier_matches(verifier: str | None, password: Secret) -> bool:
    """True if ``verifier`` (from ``pg_authid.rolpassword``) was made from ``password``."""
    if not verifier:
        return False
    m = _VERIFIER_RE.match(verifier)
    if m is None:
        return False  # md5 or unknown format: reset to SCRAM
    try:
        salt = base64.b64decode(m["salt"], validate=True)
        stored = base64.b64decode(m["stored"], validate=True)
        server = base64.b64decode(m["server"], validate=True)
    except ValueError:
        return False
    exp_stored, exp_server = _keys(_check_password(password), salt, int(m["iter"]))
    return hmac.compare_digest(stored, exp_stored) and hmac.compare_digest(server, exp_server)


__all__ = ["DEFAULT_ITERATIONS", "scram_verifier", "verifier_matches"]
