"""Where the PostgreSQL secrets live inside the secrets directory (0600 files).

``<secrets>/postgres/superuser.password`` and ``<secrets>/postgres/<db_role>.password``, one
per node role; each generated with :func:`sealfeed.secret.ensure_secret_file` if absent
(32 random bytes, URL-safe base64: 43 characters, inside Chainlink's 16-50 character rule for
database passwords).
"""

from __future__ import annotations

import os
from pathlib import Path

from sealfeed.config.model import NodeSpec
from sealfeed.errors import InputError
from sealfeed.secret import Secret, ensure_secret_file

SUBDIR = "postgres"


def superuser_password_path(secrets_dir: str | os.PathLike[str]) -> Path:
    return Path(secrets_dir) / SUBDIR / "superuser.password"


def node_password_path(secrets_dir: str | os.PathLike[str], node: NodeSpec) -> Path:
    return Path(secrets_dir) / SUBDIR / f"{node.db_role}.password"


def ensure_secret(path: Path) -> Secret:
    """The secret in ``path``, generated (0600, in a 0700 directory) on first use.

    Database passwords must be printable ASCII without spaces (see
    :mod:`sealfeed.postgres.scram`); a file holding anything else is rejected here, naming it.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = ensure_secret_file(path)
    if not all(0x21 <= ord(c) <= 0x7E for c in secret.reveal()):
        raise InputError(
            "database password must be printable ASCII without spaces", location=str(path)
        )
    return secret


def ensure_node_password(secrets_dir: str | os.PathLike[str], node: NodeSpec) -> Secret:
    """The node role's password, generated into its 0600 file on first use."""
    return ensure_secret(node_password_path(secrets_dir, node))


__all__ = ["ensure_node_password", "ensure_secret", "node_password_path", "superuser_password_path"]
