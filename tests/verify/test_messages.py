"""Issue #19.5: messages that said the wrong thing, and exit codes that disagreed with
"bad input is 2". Each case asserts the new message and the exit code, through the CLI."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from sealfeed.config import signing
from tests.fakes.appliance_image import write_measured_image
from tests.fakes.intel_pki import Scenario


def sf(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CONFIGURATION_")}
    return subprocess.run([sys.executable, "-m", "sealfeed", *args], capture_output=True,
                          text=True, timeout=120, env={**base, **(env or {})})  # fmt: skip


def _spki_pem(key: Any) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.fixture
def ed_signed(tmp_path: Path, solution: dict[str, Any]) -> Path:
    """An ed25519-jcs configuration with its signature embedded (one file, as on SP)."""
    key = signing.generate_key(signing.Scheme.MODERN)
    solution[signing.EMBEDDED_SIGNATURE_KEY] = signing.sign_modern(solution, key)
    path = tmp_path / "configuration.json"
    path.write_text(json.dumps({"solution": solution}))
    return path


def _verify_args(root: Path, config: Path, pubkey: Path) -> list[str]:
    built = Scenario().build()
    (root / "quote.bin").write_bytes(built.quote)
    (root / "collateral.json").write_text(built.collateral.to_json())
    write_measured_image(root, b"the appliance")
    return ["verify", "--image-measurement", str(root / "measurement.json"),
            "--config", str(config), "--pubkey", str(pubkey),
            "--quote", str(root / "quote.bin"), "--collateral", str(root / "collateral.json"),
            "--root-ca-fingerprint", built.root_fingerprint, "--at", built.now.isoformat()]  # fmt: skip


def test_ed25519_config_with_secp256k1_key_says_scheme_mismatch(
    tmp_path: Path, ed_signed: Path
) -> None:
    k1 = tmp_path / "k1.pub"
    k1.write_bytes(signing.public_key_pem(signing.generate_key(signing.Scheme.REFERENCE).public()))
    proc = sf("config", "verify", str(ed_signed), "--pubkey", str(k1))
    assert proc.returncode == 1
    assert "no signature field" not in proc.stderr
    assert "signed with ed25519-jcs (a Ed25519 key) but the trusted key is secp256k1" in proc.stderr
    proc = sf(*_verify_args(tmp_path, ed_signed, k1), "--json")
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1 and doc["failing_link"] == "config-signature"
    assert "signed with ed25519-jcs" in doc["checks"][0]["detail"]


KEYS = {
    "rsa": (
        lambda: _spki_pem(
            rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
        ),
        "an RSA key",
    ),
    "p256": (
        lambda: _spki_pem(ec.generate_private_key(ec.SECP256R1()).public_key()),
        "an EC key on curve P-256 (secp256r1)",
    ),
    "garbage": (lambda: b"this is not a key\n", "not a public key"),
}


@pytest.mark.parametrize("kind", sorted(KEYS))
@pytest.mark.parametrize("command", ["config-verify", "verify", "env"])
def test_wrong_key_types_are_all_bad_input(
    tmp_path: Path, ed_signed: Path, kind: str, command: str
) -> None:
    make, message = KEYS[kind]
    key = tmp_path / "key.pub"
    key.write_bytes(make())
    if command == "config-verify":
        proc = sf("config", "verify", str(ed_signed), "--pubkey", str(key))
    elif command == "verify":
        proc = sf(*_verify_args(tmp_path, ed_signed, key))
    else:  # the key from the environment the CLI passes in
        der = (
            key.read_bytes()
            if kind == "garbage"
            else serialization.load_pem_public_key(key.read_bytes()).public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        env = {"CONFIGURATION_PUBLIC_KEY": base64.b64encode(der).decode()}
        proc = sf("config", "verify", str(ed_signed), env=env)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("command", ["config-verify", "verify"])
def test_5001_digit_number_is_named(tmp_path: Path, solution: dict[str, Any], command: str) -> None:
    key = signing.generate_key(signing.Scheme.REFERENCE)
    (tmp_path / "owner.pub").write_bytes(signing.public_key_pem(key.public()))
    cfg = tmp_path / "configuration.json"
    cfg.write_text(
        json.dumps({"solution": solution}).replace('"pgPort": 5432', '"pgPort": ' + "7" * 5001)
    )
    if command == "config-verify":
        proc = sf("config", "verify", str(cfg), "--pubkey", str(tmp_path / "owner.pub"))
    else:
        proc = sf(*_verify_args(tmp_path, cfg, tmp_path / "owner.pub"))
    assert proc.returncode == 2, proc.stderr
    assert "set_int_max_str_digits" not in proc.stderr
    assert "an integer with 5,001 digits at line 1 column" in proc.stderr
    assert str(cfg) in proc.stderr


def test_collateral_dir_without_matching_file_is_bad_input(
    tmp_path: Path, solution: dict[str, Any]
) -> None:
    key = signing.generate_key(signing.Scheme.REFERENCE)
    (tmp_path / "owner.pub").write_bytes(signing.public_key_pem(key.public()))
    solution["signature"] = signing.sign_reference(solution, key)
    cfg = tmp_path / "configuration.json"
    cfg.write_text(json.dumps({"solution": solution}))
    args = _verify_args(tmp_path, cfg, tmp_path / "owner.pub")
    empty = tmp_path / "collateral.d"
    empty.mkdir()
    args[args.index("--collateral") + 1] = str(empty)
    proc = sf(*args)
    assert proc.returncode == 2, proc.stderr
    assert "no collateral for this quote in the directory: expected tdx-" in proc.stderr
