"""Embedded defaults for ``sealfeed up --embedded-defaults``: a complete, signed, local config.

The example configuration (``sealfeed.config.example``) with every path under the state
directory, signed (ed25519-jcs, embedded) by a key generated on the spot. The key is local
and throwaway: it proves the fail-closed path runs end to end, not who wrote the config.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from sealfeed.config import signing
from sealfeed.config.example import example_solution
from sealfeed.fsutil import atomic_write


def embedded_solution(
    state: Path,
    nodes: int,
    *,
    aggregator_port: int | None = None,
    exporter_port: int | None = None,
    source_urls: Mapping[str, str] | None = None,
) -> dict[str, object]:
    """The example solution with its paths under ``state``; ports and price-source base URLs
    (``priceAggregatorConfig.sources.NAME.baseUrl``, e.g. a local fake upstream) as given."""
    solution = example_solution(nodes, secrets_dir=str(state / "secrets"))
    extras = solution["sealfeed"]
    assert isinstance(extras, dict)
    aggregator = solution["priceAggregatorConfig"]
    assert isinstance(aggregator, dict)
    if aggregator_port is not None:
        aggregator["port"] = aggregator_port
    if exporter_port is not None:
        extras["exporter"] = {"port": exporter_port}
    for name, url in (source_urls or {}).items():
        sources = aggregator["sources"]
        sources.setdefault(name, {"enabled": True, "ttl": 10000})["baseUrl"] = url
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


def write_embedded_config(
    state: Path,
    nodes: int,
    *,
    aggregator_port: int | None = None,
    exporter_port: int | None = None,
    source_urls: Mapping[str, str] | None = None,
) -> tuple[str, str, str]:
    """Write STATE/config/{configuration.json, local.pem (0600), local.pub}; return
    (config path, public key path, secrets dir). An unknown source name is reported by
    the configuration check that follows (with the JSON path)."""
    cfg_dir = state / "config"
    cfg_dir.mkdir(parents=True, exist_ok=True)
    key = signing.generate_key(signing.Scheme.MODERN)
    atomic_write(cfg_dir / "local.pem", signing.private_key_pem(key), mode=0o600)
    atomic_write(cfg_dir / "local.pub", signing.public_key_pem(key.public()))
    solution = embedded_solution(
        state,
        nodes,
        aggregator_port=aggregator_port,
        exporter_port=exporter_port,
        source_urls=source_urls,
    )
    solution[signing.EMBEDDED_SIGNATURE_KEY] = signing.sign_modern(solution, key)
    config = cfg_dir / "configuration.json"
    atomic_write(config, json.dumps({"solution": solution}, indent=2) + "\n")
    secrets = state / "secrets"
    secrets.mkdir(mode=0o700, parents=True, exist_ok=True)
    return str(config), str(cfg_dir / "local.pub"), str(secrets)


__all__ = ["embedded_solution", "write_embedded_config"]
