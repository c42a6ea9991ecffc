"""configfs-tsm quote requests against a fake kernel that behaves like configfs: the entry's
attribute files appear on mkdir, and reading ``outblob`` yields a quote over ``inblob``
(a FIFO, so the read blocks until the "TDX module" answers, as on a real guest)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from sealfeed.attest import parse_quote
from sealfeed.attest.binding import appliance_report_data
from sealfeed.attest.tsm import request_quote
from sealfeed.config.objecthash import object_hash
from sealfeed.errors import ExternalError, InputError
from tests.fakes.intel_pki import Scenario


class FakeTsm:
    def __init__(self, concurrent_writer: bool = False) -> None:
        self.concurrent_writer = concurrent_writer
        self.threads: list[threading.Thread] = []

    def mkdir(self, entry: Path) -> None:
        entry.mkdir()
        (entry / "provider").write_text("tdx_guest\n")
        # configfs counts writes to inblob; the entry gets exactly ours
        (entry / "generation").write_text("1\n")
        os.mkfifo(entry / "outblob")
        t = threading.Thread(target=self._answer, args=(entry,), daemon=True)
        t.start()
        self.threads.append(t)

    def _answer(self, entry: Path) -> None:
        with open(entry / "outblob", "wb") as out:  # blocks until the reader opens it
            data = (entry / "inblob").read_bytes()
            if self.concurrent_writer:  # another process wrote inblob meanwhile
                (entry / "generation").write_text("2\n")
            out.write(dataclasses.replace(Scenario(), report_data=data).build().quote)


def test_quote_carries_our_report_data(tmp_path: Path) -> None:
    fake = FakeTsm()
    quote = request_quote(b"\x42" * 32, root=tmp_path, make_entry=fake.mkdir)
    assert parse_quote(quote).report.report_data == b"\x42" * 32 + bytes(32)


def test_concurrent_writer_is_detected(tmp_path: Path) -> None:
    fake = FakeTsm(concurrent_writer=True)
    with pytest.raises(ExternalError, match="concurrent"):
        request_quote(b"x", root=tmp_path, make_entry=fake.mkdir, attempts=2)


def test_errors_are_precise(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="at most 64"):
        request_quote(b"x" * 65, root=tmp_path)
    with pytest.raises(ExternalError, match="configfs-tsm is not available"):
        request_quote(b"x", root=tmp_path / "nope")


def _quote_cli(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFIGURATION_")}
    return subprocess.run(
        [sys.executable, "-m", "sealfeed", "attest", "quote", "--bind-image", "ab" * 32,
         "--out", str(tmp_path / "q.bin"), "--tsm-root", str(tmp_path / "none"), *extra],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip


def test_bind_config_hashes_only_a_verified_document(
    tmp_path: Path, solution: dict[str, object]
) -> None:
    """Issue #17.2: --bind-config verifies the configuration first (it needs the owner's
    key); an unsigned or foreign-signed document never reaches the TDX module."""
    from sealfeed.config import signing

    owner = signing.generate_key(signing.Scheme.REFERENCE)
    (tmp_path / "owner.pub").write_bytes(signing.public_key_pem(owner.public()))
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"solution": solution}))
    proc = _quote_cli(tmp_path, "--bind-config", str(cfg))
    assert proc.returncode == 2 and "no trusted public key" in proc.stderr
    proc = _quote_cli(tmp_path, "--bind-config", str(cfg), "--pubkey", str(tmp_path / "owner.pub"))
    assert proc.returncode == 1 and "not signed" in proc.stderr
    assert "configfs-tsm" not in proc.stderr
    signed = dict(solution)
    signed["signature"] = signing.sign_reference(signed, owner)
    cfg.write_text(json.dumps({"solution": signed}))
    # verified: now the request goes to the TDX module (absent here: exit 3)
    proc = _quote_cli(tmp_path, "--bind-config", str(cfg), "--pubkey", str(tmp_path / "owner.pub"))
    assert proc.returncode == 3 and "configfs-tsm is not available" in proc.stderr
    assert appliance_report_data("ab" * 32, object_hash({"solution": signed}))[:32]


def test_report_data_with_bind_flags_is_usage_error(tmp_path: Path) -> None:
    proc = _quote_cli(tmp_path)  # --bind-image without --bind-config
    assert proc.returncode == 2 and "--bind-config" in proc.stderr
