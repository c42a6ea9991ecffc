"""Embedded defaults for ``sealfeed up --embedded-defaults``: a complete, signed, local config.

The example configuration (``sealfeed.config.example``) with every path under the state
directory, signed (ed25519-jcs, embedded) by a key generated on the spot. The key is local
and throwaway: it proves the fail-closed path runs end to end, not who wrote the config.
"""

from __future__ import annotations

import json
from pathlib import Path

from sealfeed.config import signing
from sealfeed.config.example import example_solution
from sealfeed.fsutil import atomic_write


def embedded_solution(state: Path, nodes: int) -> dict[str, object]:
    solution = example_solution(nodes, secrets_dir=str(state / "secrets"))
    extras = solution["sealfeed"]
    assert isinstance(extras, dict)
    extras["postgres"] = {
        "dataDir": str(state / "pgdata"),
        "socketDir": str(state / "run" / "postgresql"),
        "memoryLimitMb": 1024,
    }
    extras["nodes"] = {"workdirRoot": str(state / "chainlink")}
    extras["logDir"] = str(state / "log")
    # internal passwords: generated inside the appliance on first start, never written down
    solution["chainlinkPassword"] = {"secretFile": "chainlink/api-password", "generate": True}
    solution["chainlinkKeystorePassword"] = {
        "secretFile": "chainlink/keystore-password",
        "generate": True,
    }
    return solution


def write_embedded_config(state: Path, nodes: int) -> tuple[str, str, str]:
    """Write STATE/config/{configuration.json, local.pem (0600), local.pub}; return
    (config path, public key path, secrets dir)."""
    cfg_dir = state / "config"
    cfg_dir.mkdir(parents=True, exist_ok=True)
    key = signing.generate_key(signing.Scheme.MODERN)
    atomic_write(cfg_dir / "local.pem", signing.private_key_pem(key), mode=0o600)
    atomic_write(cfg_dir / "local.pub", signing.public_key_pem(key.public()))
    solution = embedded_solution(state, nodes)
    solution[signing.EMBEDDED_SIGNATURE_KEY] = signing.sign_modern(solution, key)
    config = cfg_dir / "configuration.json"
    atomic_write(config, json.dumps({"solution": solution}, indent=2) + "\n")
    secrets = state / "secrets"
    secrets.mkdir(mode=0o700, parents=True, exist_ok=True)
    return str(config), str(cfg_dir / "local.pub"), str(secrets)


__all__ = ["embedded_solution", "write_embedded_config"]
