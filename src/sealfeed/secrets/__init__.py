"""Operator secrets into the TEE (ADR 0131) -- not to be confused with :mod:`sealfeed.secret`,
the ``Secret`` type and secret files.

``sealed`` seals and opens bundles (HPKE to the appliance's import key, pure), ``keys`` keeps
the import key in the secrets directory, ``importer`` is the root oneshot that writes
imported, generated and existing secret files for the account that consumes each one
(``sealfeed secrets import``), ``cli`` also has the operator's ``sealfeed secrets seal``.
"""

from sealfeed.secrets.importer import ImportReport, ServiceAccount, plan_import, run_import
from sealfeed.secrets.keys import IMPORT_KEY, IMPORT_PUB, ensure_import_key, load_import_key
from sealfeed.secrets.sealed import FORMAT, SealedBundle, key_id, open_bundle, parse_bundle, seal

__all__ = [
    "FORMAT",
    "IMPORT_KEY",
    "IMPORT_PUB",
    "ImportReport",
    "SealedBundle",
    "ServiceAccount",
    "ensure_import_key",
    "key_id",
    "load_import_key",
    "open_bundle",
    "parse_bundle",
    "plan_import",
    "run_import",
    "seal",
]
