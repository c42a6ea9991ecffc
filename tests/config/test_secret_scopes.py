"""Each service resolves only its own component's secret files (ADR 0132).

The scopes are JSON path prefixes (``sealfeed.config.loader.SECRET_SCOPES``); these tests prove
that every secret-typed key the schema declares belongs to exactly one consumer (a new secret
key cannot slip through unowned), and that loading for one consumer never opens another
consumer's file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from sealfeed.config import signing
from sealfeed.config.loader import (
    SECRET_SCOPES,
    Trust,
    consumer_of,
    load_and_verify,
    secret_file_refs,
)
from sealfeed.config.schema import SOLUTION
from sealfeed.config.spec import Node
from sealfeed.errors import InputError
from sealfeed.secret import NotLoadedSecret


def _secret_paths(node: Node, path: str = "") -> list[str]:
    out: list[str] = []
    if node.secret:
        out.append(path)
    for name, child in node.fields.items():
        out += _secret_paths(child, f"{path}.{name}" if path else name)
    if node.item is not None:
        out += _secret_paths(node.item, f"{path}.<item>")
    return out


def test_every_secret_key_has_exactly_one_consumer() -> None:
    paths = _secret_paths(SOLUTION)
    assert len(paths) >= 8, paths  # API keys, passwords, push credentials, faucet key
    for path in paths:
        owners = [
            c for c, prefixes in SECRET_SCOPES.items()
            if any(path == p or path.startswith(p if p.endswith(".") else p + ".")
                   for p in prefixes)
        ]  # fmt: skip
        assert len(owners) == 1, f"{path}: consumers {owners}"
        assert consumer_of(path) == owners[0]


def _signed(tmp_path: Path, solution: dict[str, Any]) -> tuple[Path, Trust]:
    import json

    key = signing.generate_key(signing.Scheme.MODERN)
    solution[signing.EMBEDDED_SIGNATURE_KEY] = signing.sign_modern(solution, key)
    path = tmp_path / "configuration.json"
    path.write_text(json.dumps({"solution": solution}))
    return path, Trust(key.public(), "test")


def _with_secret_files(solution: dict[str, Any]) -> dict[str, Any]:
    solution["chainlinkPassword"] = {"secretFile": "chainlink/api-password"}
    solution["chainlinkKeystorePassword"] = {"secretFile": "chainlink/keystore-password"}
    src = solution["priceAggregatorConfig"]["sources"]
    src["finnhub"] = {"enabled": True, "apiKey": {"secretFile": "exchanges/finnhub.key"}}
    return solution


def test_a_consumer_reads_only_its_own_files(tmp_path: Path, solution: dict[str, Any]) -> None:
    secrets = tmp_path / "secrets"
    (secrets / "exchanges").mkdir(parents=True)
    (secrets / "exchanges" / "finnhub.key").write_text("finnhub-api-key-value\n")
    # the Chainlink files do not even exist: the aggregator must never look for them
    path, trust = _signed(tmp_path, _with_secret_files(solution))
    cfg = load_and_verify(path, trust, secrets_dir=secrets, consumer="aggregator").config
    assert cfg.aggregator.sources["finnhub"].api_key is not None
    assert cfg.aggregator.sources["finnhub"].api_key.reveal() == "finnhub-api-key-value"
    assert isinstance(cfg.chainlink.password, NotLoadedSecret)
    with pytest.raises(RuntimeError, match="belongs to another component"):
        cfg.chainlink.password.reveal()
    assert "not loaded" not in repr(cfg.chainlink.password)  # still '***'
    # the chainlink consumer does need its files, and says which one is missing
    with pytest.raises(
        InputError, match="chainlinkPassword: secret for chainlinkPassword file does not exist"
    ):
        load_and_verify(path, trust, secrets_dir=secrets, consumer="chainlink")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a check as another account")
def test_a_file_of_another_account_is_one_precise_line(solution: dict[str, Any]) -> None:
    """The boot finding (issue #19 a): a root-only secret read by a service account used to
    end in "internal error: PermissionError". Now: one line naming the file, its owner and
    mode, and the account."""
    import shutil
    import subprocess
    import sys
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="sealfeed-scope-", dir="/tmp"))
    try:
        base.chmod(0o755)
        secrets = base / "secrets"
        (secrets / "exchanges").mkdir(parents=True, mode=0o755)
        key = secrets / "exchanges" / "finnhub.key"
        key.write_text("finnhub-api-key-value\n")
        key.chmod(0o600)  # root's
        path, trust = _signed(base, _with_secret_files(solution))
        path.chmod(0o644)
        pub = base / "owner.pub"
        pub.write_bytes(signing.public_key_pem(trust.public_key))
        pub.chmod(0o644)
        src = str(Path(__file__).resolve().parents[2] / "src")
        proc = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable,
             "-m", "sealfeed", "aggregator", "serve", "--config", str(path), "--pubkey",
             str(pub), "--secrets-dir", str(secrets), "--port", "0"],
            capture_output=True, text=True, check=False, cwd="/", timeout=60,
            env={**os.environ, "PYTHONPATH": src},
        )  # fmt: skip
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert str(key) in lines[0]
    assert "permission denied: the file is -rw------- root:root" in lines[0]
    assert "(uid 65534)" in lines[0], lines[0]


def test_secret_file_refs_name_consumers(solution: dict[str, Any]) -> None:
    refs = {r.path: r for r in secret_file_refs(_with_secret_files(solution))}
    assert refs["chainlinkPassword"].consumer == "chainlink"
    assert refs["priceAggregatorConfig.sources.finnhub.apiKey"].consumer == "aggregator"
    assert refs["priceAggregatorConfig.sources.finnhub.apiKey"].file == "exchanges/finnhub.key"
    assert not refs["chainlinkPassword"].generate


def _with_push_secrets(solution: dict[str, Any]) -> dict[str, Any]:
    solution["sealfeed"].setdefault("exporter", {})["metricsPush"] = {
        "enabled": True, "url": "http://127.0.0.1:9091", "basicAuth": {
            "username": "ops", "password": {"secretFile": "push/exporter.password"}},
        "bearerToken": {"secretFile": "push/exporter.token"}}  # fmt: skip
    solution["priceAggregatorConfig"]["metricsPush"] = {"enabled": False, "basicAuth": {
        "username": "ops", "password": {"secretFile": "push/aggregator.password"}}}  # fmt: skip
    return _with_secret_files(solution)


def test_the_link_reads_the_exporters_push_credentials_and_nothing_else(
    tmp_path: Path, solution: dict[str, Any]
) -> None:
    """ADR 0146: the link pushes with the exporter's receiver, so it reads those credentials
    (SECRET_READERS) -- and not one other file, the aggregator's push password included.
    Only the link's two files exist: touching any other would fail the load."""
    from sealfeed.config.loader import SECRET_READERS, reads

    secrets = tmp_path / "link-secrets"
    (secrets / "push").mkdir(parents=True)
    (secrets / "push" / "exporter.password").write_text("exporter-push-password\n")
    (secrets / "push" / "exporter.token").write_text("exporter-push-token\n")
    for f in (secrets / "push").iterdir():
        f.chmod(0o600)
    path, trust = _signed(tmp_path, _with_push_secrets(solution))
    cfg = load_and_verify(path, trust, secrets_dir=secrets, consumer="link").config
    push = cfg.exporter.push
    assert push.basic_auth is not None
    assert push.basic_auth.password.reveal() == "exporter-push-password"
    assert push.bearer_token is not None and push.bearer_token.reveal() == "exporter-push-token"
    assert isinstance(cfg.aggregator.metrics_push.basic_auth.password, NotLoadedSecret)  # type: ignore[union-attr]
    assert isinstance(cfg.chainlink.password, NotLoadedSecret)
    # the loan is the push credentials only, never the exporter's whole scope; the exporter
    # still owns them (secrets-import gives the link a copy, tests/secrets)
    assert SECRET_READERS["link"] == ("sealfeed.exporter.metricsPush.",)
    assert consumer_of("sealfeed.exporter.metricsPush.bearerToken") == "exporter"
    assert reads("link", "sealfeed.exporter.metricsPush.basicAuth.password")
    assert not reads("link", "sealfeed.exporter.somethingElse")
    assert not reads("link", "priceAggregatorConfig.metricsPush.basicAuth.password")
