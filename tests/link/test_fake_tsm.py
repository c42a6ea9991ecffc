"""The fake TDX kernel itself (tests/fakes/tsm.py): configfs-tsm semantics over FUSE,
reachable from other processes, with per-TD knobs."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sealfeed.attest import parse_quote, verify_quote
from sealfeed.attest.tcbinfo import TcbStatus
from tests.fakes.tsm import ConfigfsTsm, FakeTdxHost, TdKnobs, fuse_available

REQUEST = (
    "import sys; from sealfeed.attest.tsm import request_quote; "
    "sys.stdout.buffer.write(request_quote(bytes.fromhex(sys.argv[2]), root=sys.argv[1]))"
)


@pytest.fixture
def tsm(host: FakeTdxHost, tmp_path: Path) -> Iterator[ConfigfsTsm]:
    why = fuse_available()
    if why:
        pytest.skip(f"SKIPPED LOUDLY: the fake TDX kernel needs FUSE: {why}")
    with host.mount(tmp_path / "tsm", TdKnobs(platform=3)) as t:
        yield t


def test_quotes_for_other_processes(host: FakeTdxHost, tsm: ConfigfsTsm) -> None:
    datas = [bytes([i]) * 64 for i in range(4)]
    procs = [
        subprocess.Popen([sys.executable, "-c", REQUEST, str(tsm.root), d.hex()],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for d in datas
    ]  # fmt: skip
    for d, p in zip(datas, procs, strict=True):
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
        report = verify_quote(out, host.collateral(), now=time.time(),
                              trust_roots=[host.root_fingerprint])  # fmt: skip
        assert report.quote.report.report_data == d
        assert report.tcb_status is TcbStatus.UP_TO_DATE
    assert tsm.quotes_served == 4
    assert list(tsm.root.iterdir()) == []  # request_quote removed its entries


def test_configfs_semantics(tsm: ConfigfsTsm) -> None:
    entry = tsm.root / "e1"
    entry.mkdir()
    assert sorted(p.name for p in entry.iterdir()) == [
        "auxblob", "generation", "inblob", "outblob", "provider"
    ]  # fmt: skip
    assert (entry / "provider").read_text() == "tdx_guest\n"
    assert (entry / "generation").read_text() == "0\n"
    with pytest.raises(OSError) as err:
        (entry / "outblob").read_bytes()  # nothing written yet
    assert err.value.errno == errno.EINVAL
    (entry / "inblob").write_bytes(b"\x07" * 64)
    assert (entry / "generation").read_text() == "1\n"
    q1 = (entry / "outblob").read_bytes()
    assert parse_quote(q1).report.report_data == b"\x07" * 64
    assert (entry / "outblob").read_bytes() == q1  # same generation, same quote
    with pytest.raises(OSError) as err:
        (entry / "inblob").write_bytes(b"x" * 65)
    assert err.value.errno == errno.EINVAL
    with pytest.raises(OSError):
        (entry / "new-file").write_bytes(b"x")  # configfs: no files of your own
    with pytest.raises(OSError):
        (entry / "provider").write_text("sev")
    with pytest.raises(FileExistsError):
        entry.mkdir()
    entry.rmdir()
    assert not entry.exists()
    with pytest.raises(OSError):
        os.mkdir(tsm.root / "a" / "b")


def test_td_knobs(host: FakeTdxHost) -> None:
    now = time.time()
    roots = [host.root_fingerprint]
    debug = parse_quote(host.quote(bytes(64), TdKnobs(debug=True))).td_report
    assert debug is not None and debug.td_attributes[0] & 1
    ood = verify_quote(host.quote(bytes(64), TdKnobs(tcb="OutOfDate")), host.collateral(), now=now,
                       trust_roots=roots)  # fmt: skip
    assert ood.tcb_status is TcbStatus.OUT_OF_DATE
    other = parse_quote(host.quote(bytes(64), TdKnobs(mr_td=b"\x01" * 48))).td_report
    assert other is not None and other.mr_td == b"\x01" * 48
    # platforms share the PKI; each can be revoked alone
    p5 = host.quote(bytes(64), TdKnobs(platform=5))
    assert (
        verify_quote(p5, host.collateral(), now=now, trust_roots=roots).tcb_status.value
        == "UpToDate"
    )
    revoked = host.collateral(revoke_platforms=(5,))
    with pytest.raises(Exception, match="revoked"):
        verify_quote(p5, revoked, now=now, trust_roots=roots)
    p0 = host.quote(bytes(64))
    assert verify_quote(p0, revoked, now=now, trust_roots=roots).tcb_status is TcbStatus.UP_TO_DATE
