"""`sealfeed config ...` through a real subprocess: files, modes, exit codes, --json."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


def sf(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CONFIGURATION_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "sealfeed", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=full_env,
    )


@pytest.fixture
def config_file(tmp_path: Path, solution: dict[str, Any]) -> Path:
    path = tmp_path / "configuration.json"
    path.write_text(json.dumps({"solution": solution}, indent=2))
    return path


@pytest.mark.parametrize("scheme", ["ed25519-jcs", "secp256k1-objecthash"])
def test_keygen_sign_verify_roundtrip(tmp_path: Path, config_file: Path, scheme: str) -> None:
    kg = sf("config", "keygen", "--scheme", scheme, "--out", str(tmp_path / "owner"), "--json")
    assert kg.returncode == 0, kg.stderr
    info = json.loads(kg.stdout)
    priv = tmp_path / "owner.pem"
    assert stat.S_IMODE(priv.stat().st_mode) == 0o600
    assert info["fingerprint"].startswith("sha256:")
    assert "PRIVATE" not in kg.stdout and "PRIVATE" not in kg.stderr

    again = sf("config", "keygen", "--scheme", scheme, "--out", str(tmp_path / "owner"))
    assert again.returncode == 2 and "refusing to overwrite" in again.stderr

    sign = sf("config", "sign", str(config_file), "--key", str(priv), "--json")
    assert sign.returncode == 0, sign.stderr
    ok = sf("config", "verify", str(config_file), "--pubkey", str(tmp_path / "owner.pub"), "--json")
    assert ok.returncode == 0, ok.stderr
    report = json.loads(ok.stdout)
    assert report["ok"] is True and report["key_fingerprint"] == info["fingerprint"]
    assert report["digest"] == json.loads(sign.stdout)["digest"]

    # the env form baked into the image works too
    env_ok = sf(
        "config",
        "verify",
        str(config_file),
        env={"CONFIGURATION_PUBLIC_KEY": info["configuration_public_key"]},
    )
    assert env_ok.returncode == 0, env_ok.stderr

    doc = json.loads(config_file.read_text())
    doc["solution"]["pgPort"] = 5433
    config_file.write_text(json.dumps(doc))
    bad = sf("config", "verify", str(config_file), "--pubkey", str(tmp_path / "owner.pub"))
    assert bad.returncode == 1
    assert bad.stderr.startswith("sealfeed: ") and "Traceback" not in bad.stderr


def test_verify_without_key_fails_closed(config_file: Path) -> None:
    proc = sf("config", "verify", str(config_file))
    assert proc.returncode == 2
    assert "no trusted public key" in proc.stderr


def test_check_reports_every_problem(tmp_path: Path, solution: dict[str, Any]) -> None:
    solution["pgPort"] = "x"
    solution["priceAggregatorConfig"]["sources"]["kraken"]["ttl"] = -5
    path = tmp_path / "c.json"
    path.write_text(json.dumps(solution))
    proc = sf("config", "check", str(path))
    assert proc.returncode == 2
    assert "pgPort: must be an integer" in proc.stderr
    assert "priceAggregatorConfig.sources.kraken.ttl: must be >= 1000, got -5" in proc.stderr
    js = sf("config", "check", str(path), "--json")
    assert json.loads(js.stdout)["ok"] is False


def test_check_ok_and_missing_file(config_file: Path, tmp_path: Path) -> None:
    proc = sf("config", "check", str(config_file), "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["summary"]["nodes"] == 5
    missing = sf("config", "check", str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_sign_refuses_invalid_config(tmp_path: Path, solution: dict[str, Any]) -> None:
    sf("config", "keygen", "--out", str(tmp_path / "k"))
    solution["totalNodes"] = "zero"
    path = tmp_path / "c.json"
    path.write_text(json.dumps(solution))
    proc = sf("config", "sign", str(path), "--key", str(tmp_path / "k.pem"))
    assert proc.returncode == 2 and "totalNodes" in proc.stderr
    assert not (tmp_path / "c.json.sig").exists()


def test_help_teaches() -> None:
    proc = sf("config", "--help")
    for word in ("keygen", "sign", "verify", "check", "schema"):
        assert word in proc.stdout


def test_embedded_ed25519_signature_travels_in_one_file(tmp_path: Path, config_file: Path) -> None:
    sf("config", "keygen", "--out", str(tmp_path / "k"))
    proc = sf("config", "sign", str(config_file), "--key", str(tmp_path / "k.pem"), "--embed")
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "configuration.json.sig").exists()
    doc = json.loads(config_file.read_text())
    assert set(doc["solution"]["sealfeedSignature"]) == {"scheme", "keyId", "digest", "signature"}
    ok = sf("config", "verify", str(config_file), "--pubkey", str(tmp_path / "k.pub"))
    assert ok.returncode == 0, ok.stderr
    doc["solution"]["sealfeedSignature"]["digest"] = "sha256:" + "0" * 64
    config_file.write_text(json.dumps(doc))
    bad = sf("config", "verify", str(config_file), "--pubkey", str(tmp_path / "k.pub"))
    assert bad.returncode == 1 and "digest" in bad.stderr
