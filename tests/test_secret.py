"""Secret files: 0600, atomic, never overwritten silently, permission warnings."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from sealfeed.errors import InputError
from sealfeed.fsutil import atomic_write
from sealfeed.secret import ensure_secret_file, read_secret_file, write_secret_file


def test_write_is_0600_and_refuses_overwrite(tmp_path: Path) -> None:
    p = tmp_path / "s" / "db.password"
    write_secret_file(p, "value-1")
    assert stat.S_IMODE(p.stat().st_mode) == 0o600
    with pytest.raises(InputError, match="refusing to overwrite"):
        write_secret_file(p, "value-2")
    write_secret_file(p, "value-2", overwrite=True)
    assert read_secret_file(p).reveal() == "value-2"


def test_ensure_generates_once(tmp_path: Path) -> None:
    p = tmp_path / "node.key"
    first = ensure_secret_file(p)
    assert ensure_secret_file(p) == first
    assert len(first.reveal()) >= 32


def test_read_warns_when_group_readable(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    p = tmp_path / "x"
    p.write_text("secret-value\n")
    os.chmod(p, 0o644)
    with caplog.at_level(logging.WARNING):
        assert read_secret_file(p).reveal() == "secret-value"
    assert "chmod 600" in caplog.text and "secret-value" not in caplog.text


def test_missing_and_empty_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        read_secret_file(tmp_path / "nope")
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(InputError, match="empty"):
        read_secret_file(tmp_path / "empty")


def test_atomic_write_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "f"
    atomic_write(target, "old")
    with pytest.raises(TypeError):
        atomic_write(target, 123)  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]


def test_ensure_is_safe_when_many_start_at_once(tmp_path: Path) -> None:
    import concurrent.futures

    target = tmp_path / "sub" / "keystore.password"
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        values = {s.reveal() for s in pool.map(lambda _: ensure_secret_file(target), range(16))}
    assert len(values) == 1
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == ["keystore.password"]


def test_ensure_gives_the_new_file_to_its_owner(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("chown needs root")
    p = tmp_path / "generated" / "api.password"
    ensure_secret_file(p, owner=(65534, 65534))
    st = p.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (65534, 65534, 0o600)
    assert sorted(x.name for x in p.parent.iterdir()) == ["api.password"]  # no temp left
