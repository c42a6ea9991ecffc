"""A fake TDX guest kernel for tests: configfs-tsm served over FUSE, quotes from the
synthetic Intel PKI (tests/fakes/intel_pki.py), reachable from ANY process.

Real configfs-tsm (Linux ``Documentation/ABI/testing/configfs-tsm``): ``mkdir`` under
``/sys/kernel/config/tsm/report/`` creates an entry whose attribute files exist at once
(``inblob``, ``outblob``, ``generation``, ``provider``, ``auxblob``); writing up to 64 bytes to
``inblob`` bumps ``generation``; reading ``outblob`` returns a quote over ``inblob``;
``rmdir`` removes the entry. :class:`ConfigfsTsm` implements exactly that as a FUSE file
system (the kernel FUSE protocol over ``/dev/fuse``, ``include/uapi/linux/fuse.h``), so
``sealfeed.attest.tsm.request_quote`` runs unmodified against it from a subprocess -- a
``sealfeed link serve`` "VM" -- as it would on a TDX guest.

:class:`FakeTdxHost` is one "machine": one synthetic PKI (root, PCK CA, PCK, TCB signing)
that every fake TD on it chains to, so a single collateral document verifies all of them.
Per-TD knobs (:class:`TdKnobs`): MRTD, RTMR0-3, debug, TCB level, and the platform (its
own PCK certificate, so one platform can be revoked alone). ::

    host = FakeTdxHost()
    with host.mount(tmp / "tsm-a", TdKnobs(debug=True)) as tsm:
        quote = request_quote(report_data, root=tsm.root)   # from any process
    host.collateral_file(tmp / "collateral.json", revoke_platforms=(1,))

As a daemon (for tools outside pytest)::

    python -m tests.fakes.tsm --mount DIR [--debug] [--tcb OutOfDate] [--mr-td HEX]
        --collateral-out FILE --root-fingerprint-out FILE

Needs CAP_SYS_ADMIN (mount) and /dev/fuse; :func:`fuse_available` says whether this
process has them.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import dataclasses
import errno
import os
import signal
import stat
import struct
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from sealfeed.attest.collateral import Collateral
from tests.fakes.intel_pki import (
    SGX_OID,
    TD_ATTRIBUTES_DEBUG,
    TD_ATTRIBUTES_PROD,
    Built,
    Scenario,
    key,
    make_cert,
    make_crl,
)

# --- per-TD knobs -----------------------------------------------------------------------------

DEFAULT_MR_TD = Scenario().mr_td
DEFAULT_RTMRS = Scenario().rtmrs
#: TEE_TCB_SVN below the UpToDate level's TDX component 2 (3) but at the OutOfDate one (2)
_TEE_TCB_SVN_OUT_OF_DATE = bytes.fromhex("06010200000000000000000000000000")
#: serial of the base scenario's PCK leaf (intel_pki.Scenario.build)
_PCK_SERIAL = 0x4000


@dataclass(frozen=True)
class TdKnobs:
    """What one fake TD measures and how its platform is rated."""

    mr_td: bytes = DEFAULT_MR_TD
    rtmrs: tuple[bytes, bytes, bytes, bytes] = DEFAULT_RTMRS
    debug: bool = False
    #: "OutOfDate" lowers the TDX module TCB below the UpToDate level (INTEL-SA-00837)
    tcb: Literal["UpToDate", "OutOfDate"] = "UpToDate"
    #: which physical platform: its own PCK leaf (serial 0x4000 + platform), same PCK CA
    platform: int = 0

    def registers(self) -> tuple[bytes, ...]:
        return (self.mr_td, *self.rtmrs)


class FakeTdxHost:
    """One synthetic Intel PKI; quotes for any TD knobs, collateral for all of them."""

    def __init__(self, now: datetime | None = None) -> None:
        # collateral valid from now - 1 day to now + 29 days (Scenario defaults): the link
        # under test uses the real clock
        self.now = (now or datetime.now(UTC)).replace(microsecond=0)
        self.base = Scenario(now=self.now)
        self.built: Built = self.base.build()
        chain = x509.load_pem_x509_certificates(self.built.collateral.pck_crl_issuer_chain.encode())
        self._pck_ca = chain[0]
        self._chains: dict[int, bytes] = {}
        self._lock = threading.Lock()

    def _chain(self, platform: int) -> bytes:
        """PEM PCK chain of ``platform``: a leaf for the same PCK key and SGX extension as
        the base scenario's, serial 0x4000 + platform, signed by the one PCK CA."""
        if platform not in self._chains:
            leaf = self.built.pck
            if platform:
                b = self.base
                leaf = make_cert(
                    subject="Intel SGX PCK Certificate",
                    issuer=b.pck_ca_name,
                    public_key=key("pck").public_key(),
                    signing_key=key(b.pck_leaf_signed_by),
                    serial=_PCK_SERIAL + platform,
                    not_before=self.now + b.pck_not_before,
                    not_after=self.now + b.pck_not_after,
                    ca=False,
                    extensions=(self.built.pck.extensions.get_extension_for_oid(
                        x509.ObjectIdentifier(SGX_OID)).value,),
                )  # fmt: skip
            self._chains[platform] = b"".join(
                c.public_bytes(Encoding.PEM) for c in (leaf, self._pck_ca, self.built.root)
            )
        return self._chains[platform]

    @property
    def root_fingerprint(self) -> str:
        return self.built.root_fingerprint

    def quote(self, report_data: bytes, td: TdKnobs | None = None) -> bytes:
        td = td or TdKnobs()
        scenario = dataclasses.replace(
            self.base,
            report_data=report_data.ljust(64, b"\0"),
            mr_td=td.mr_td,
            rtmrs=td.rtmrs,
            td_attributes=TD_ATTRIBUTES_DEBUG if td.debug else TD_ATTRIBUTES_PROD,
            tee_tcb_svn=_TEE_TCB_SVN_OUT_OF_DATE
            if td.tcb == "OutOfDate"
            else self.base.tee_tcb_svn,
        )
        with self._lock:  # one chain per platform for every quote: one collateral for all
            return scenario._quote(self._chain(td.platform)).to_bytes()

    def collateral(self, *, revoke_platforms: Iterable[int] = ()) -> Collateral:
        """The collateral of this machine; ``revoke_platforms`` re-issues the PCK CRL (same
        CA, later thisUpdate) listing those platforms' PCKs -- what a refresh after a
        revocation brings."""
        coll = self.built.collateral
        revoked = tuple(_PCK_SERIAL + p for p in revoke_platforms)
        if not revoked:
            return coll
        b = self.base
        crl = make_crl(
            issuer=b.pck_ca_name,
            signing_key=key(b.pck_crl_signed_by),
            this_update=self.now + b.pck_crl_this_update + timedelta(seconds=1),
            next_update=self.now + b.pck_crl_next_update,
            revoked=(*revoked, 0x4444),
        )
        return dataclasses.replace(coll, pck_crl=crl.public_bytes(Encoding.DER))

    def collateral_file(self, path: Path, *, revoke_platforms: Iterable[int] = ()) -> Path:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.collateral(revoke_platforms=revoke_platforms).to_json())
        os.replace(tmp, path)
        return path

    def mount(self, path: Path, td: TdKnobs | None = None) -> ConfigfsTsm:
        knobs = td or TdKnobs()
        return ConfigfsTsm(path, lambda rd: self.quote(rd, knobs)).start()


# --- FUSE -------------------------------------------------------------------------------------
# include/uapi/linux/fuse.h (protocol 7.x); only what configfs-tsm semantics need.

FUSE_LOOKUP, FUSE_FORGET, FUSE_GETATTR, FUSE_SETATTR = 1, 2, 3, 4
FUSE_MKDIR, FUSE_UNLINK, FUSE_RMDIR = 9, 10, 11
FUSE_OPEN, FUSE_READ, FUSE_WRITE, FUSE_RELEASE, FUSE_FLUSH = 14, 15, 16, 18, 25
FUSE_INIT, FUSE_OPENDIR, FUSE_READDIR, FUSE_RELEASEDIR = 26, 27, 28, 29
FUSE_INTERRUPT, FUSE_DESTROY, FUSE_BATCH_FORGET = 36, 38, 42
_NO_REPLY = {FUSE_FORGET, FUSE_BATCH_FORGET, FUSE_INTERRUPT}

_IN_HEADER = struct.Struct("<IIQQIIIHH")  # len opcode unique nodeid uid gid pid extlen pad
_OUT_HEADER = struct.Struct("<IiQ")  # len error unique
# ino size blocks atime mtime ctime atimensec mtimensec ctimensec mode nlink uid gid rdev
# blksize flags
_ATTR = struct.Struct("<QQQQQQIIIIIIIIII")
_ENTRY_OUT = struct.Struct("<QQQQII")  # nodeid generation entry_valid attr_valid (+nsec)
_ATTR_OUT = struct.Struct("<QII")  # attr_valid attr_valid_nsec dummy
_INIT_IN = struct.Struct("<IIII")  # major minor max_readahead flags (prefix)
_INIT_OUT = struct.Struct("<IIIIHHIIHHI7I")
_OPEN_OUT = struct.Struct("<QII")  # fh open_flags padding
_RW_IN = struct.Struct("<QQII")  # fh offset size flags (prefix of read_in / write_in)
_WRITE_IN_SIZE = 40
_SETATTR_IN = struct.Struct("<IIQQ")  # valid padding fh size (prefix)
_MKDIR_IN = struct.Struct("<II")
_DIRENT = struct.Struct("<QQII")
FATTR_SIZE = 1 << 3
FOPEN_DIRECT_IO = 1 << 0
MNT_DETACH = 2
_READ_BUFFER = 132 * 1024

INBLOB_MAX = 64  # configfs-tsm TSM_INBLOB_MAX
_FILES = {  # name -> mode (configfs-tsm attribute permissions)
    "inblob": 0o200,
    "outblob": 0o444,
    "generation": 0o444,
    "provider": 0o444,
    "auxblob": 0o444,
}

_libc = ctypes.CDLL(None, use_errno=True)


class FuseUnavailable(RuntimeError):
    pass


def fuse_available() -> str | None:
    """None when FUSE mounts work here, else why not (for a loud skip)."""
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse does not exist"
    if os.geteuid() != 0:
        return "mounting a FUSE file system needs root (CAP_SYS_ADMIN)"
    return None


@dataclass
class _Entry:
    name: str
    ino: int
    files: dict[str, int]
    inblob: bytearray = dataclasses.field(default_factory=bytearray)
    generation: int = 0
    quote: tuple[int, bytes] | None = None


class ConfigfsTsm:
    """configfs-tsm's report directory at ``root``, served by a thread of this process."""

    def __init__(self, root: Path, quote_for: Any) -> None:
        self.root = Path(root)
        self.quote_for = quote_for
        self.quotes_served = 0
        #: the 64 bytes of every quote served, in order (what a caller got signed)
        self.report_data: list[bytes] = []
        self.fd = -1
        self._thread: threading.Thread | None = None
        self._entries: dict[str, _Entry] = {}
        self._nodes: dict[int, tuple[str, str | None]] = {}  # ino -> (entry, file | None)
        self._next_ino = 2
        self._next_fh = 1
        self.uid, self.gid = os.getuid(), os.getgid()

    # --- lifecycle --------------------------------------------------------------------------
    def start(self) -> ConfigfsTsm:
        why = fuse_available()
        if why:
            raise FuseUnavailable(why)
        self.root.mkdir(parents=True, exist_ok=True)
        self.fd = os.open("/dev/fuse", os.O_RDWR | os.O_CLOEXEC)
        # default_permissions: the kernel checks the modes below as configfs does -- the
        # report directory and every entry are root's, inblob is 0200 -- so an unprivileged
        # process cannot ask for a quote (ADR 0145), exactly as on a TDX guest
        opts = f"fd={self.fd},rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions"
        rc = _libc.mount(b"sealfeed-fake-tsm", str(self.root).encode(), b"fuse.sealfeed-tsm", 0,
                         opts.encode())  # fmt: skip
        if rc != 0:
            err = ctypes.get_errno()
            os.close(self.fd)
            raise FuseUnavailable(f"mount failed: {os.strerror(err)}")
        self._thread = threading.Thread(
            target=self._serve, name=f"fake-tsm {self.root}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        _libc.umount2(str(self.root).encode(), MNT_DETACH)
        self._thread.join(timeout=10)
        with contextlib.suppress(OSError):
            os.close(self.fd)
        self._thread = None

    def __enter__(self) -> ConfigfsTsm:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- the file system ------------------------------------------------------------------
    def _attr(self, ino: int) -> bytes:
        now = int(time.time())
        if ino == 1 or self._nodes[ino][1] is None:
            mode, nlink, size = stat.S_IFDIR | 0o755, 2, 0
        else:
            _entry, name = self._nodes[ino]
            assert name is not None
            mode, nlink, size = stat.S_IFREG | _FILES[name], 1, 0
        return _ATTR.pack(ino, size, 0, now, now, now, 0, 0, 0, mode, nlink, self.uid, self.gid,
                          0, 4096, 0)  # fmt: skip

    def _entry_out(self, ino: int) -> bytes:
        return _ENTRY_OUT.pack(ino, 0, 0, 0, 0, 0) + self._attr(ino)

    def _attr_out(self, ino: int) -> bytes:
        return _ATTR_OUT.pack(0, 0, 0) + self._attr(ino)

    def _content(self, entry: _Entry, name: str) -> bytes:
        if name == "generation":
            return f"{entry.generation}\n".encode()
        if name == "provider":
            return b"tdx_guest\n"
        if name == "auxblob":
            return b""
        if name == "outblob":
            if entry.quote is None or entry.quote[0] != entry.generation:
                if len(entry.inblob) != INBLOB_MAX:  # TDX needs exactly 64 bytes
                    raise OSError(errno.EINVAL, "inblob must be 64 bytes")
                entry.quote = (entry.generation, self.quote_for(bytes(entry.inblob)))
                self.quotes_served += 1
                self.report_data.append(bytes(entry.inblob))
            return entry.quote[1]
        raise OSError(errno.EACCES, "write-only")

    def _handle(self, opcode: int, nodeid: int, body: bytes) -> bytes:
        if opcode == FUSE_INIT:
            _major, minor, readahead, _flags = _INIT_IN.unpack_from(body)
            return _INIT_OUT.pack(7, min(minor, 31), readahead, 0, 16, 12, 65536, 1, 0, 0, 0,
                                  *([0] * 7))  # fmt: skip
        if opcode == FUSE_LOOKUP:
            name = body.split(b"\0", 1)[0].decode()
            if nodeid == 1:
                entry = self._entries.get(name)
                if entry is None:
                    raise OSError(errno.ENOENT, name)
                return self._entry_out(entry.ino)
            ename, fname = self._nodes.get(nodeid, ("", ""))
            if fname is not None or ename not in self._entries:
                raise OSError(errno.ENOENT, name)
            ino = self._entries[ename].files.get(name)
            if ino is None:
                raise OSError(errno.ENOENT, name)
            return self._entry_out(ino)
        if opcode == FUSE_GETATTR:
            if nodeid != 1 and nodeid not in self._nodes:
                raise OSError(errno.ENOENT, "gone")
            return self._attr_out(nodeid)
        if opcode == FUSE_SETATTR:
            valid, _pad, _fh, size = _SETATTR_IN.unpack_from(body)
            if nodeid not in self._nodes:
                raise OSError(errno.ENOENT, "gone")
            ename, fname = self._nodes[nodeid]
            if valid & FATTR_SIZE:
                if fname != "inblob":
                    raise OSError(errno.EACCES, "read-only")
                del self._entries[ename].inblob[size:]
            return self._attr_out(nodeid)
        if opcode == FUSE_MKDIR:
            _mode, _umask = _MKDIR_IN.unpack_from(body)
            name = body[_MKDIR_IN.size :].split(b"\0", 1)[0].decode()
            if nodeid != 1:
                raise OSError(errno.EPERM, "entries live at the top level")
            if name in self._entries:
                raise OSError(errno.EEXIST, name)
            ino = self._alloc(name, None)
            files = {f: self._alloc(name, f) for f in _FILES}
            self._entries[name] = _Entry(name, ino, files)
            return self._entry_out(ino)
        if opcode == FUSE_RMDIR:
            name = body.split(b"\0", 1)[0].decode()
            entry = self._entries.pop(name, None) if nodeid == 1 else None
            if entry is None:
                raise OSError(errno.ENOENT, name)
            for ino in (entry.ino, *entry.files.values()):
                self._nodes.pop(ino, None)
            return b""
        if opcode in (FUSE_OPEN, FUSE_OPENDIR):
            flags = struct.unpack_from("<I", body)[0]
            if opcode == FUSE_OPEN:
                if nodeid not in self._nodes:
                    raise OSError(errno.ENOENT, "gone")
                ename, fname = self._nodes[nodeid]
                if flags & os.O_TRUNC and fname == "inblob":
                    self._entries[ename].inblob.clear()
            fh = self._next_fh
            self._next_fh += 1
            return _OPEN_OUT.pack(fh, FOPEN_DIRECT_IO if opcode == FUSE_OPEN else 0, 0)
        if opcode == FUSE_READ:
            _fh, offset, size, _flags = _RW_IN.unpack_from(body)
            if nodeid not in self._nodes:
                raise OSError(errno.ENOENT, "gone")
            ename, fname = self._nodes[nodeid]
            assert fname is not None
            return self._content(self._entries[ename], fname)[offset : offset + size]
        if opcode == FUSE_WRITE:
            _fh, offset, size, _flags = _RW_IN.unpack_from(body)
            data = body[_WRITE_IN_SIZE : _WRITE_IN_SIZE + size]
            if nodeid not in self._nodes:
                raise OSError(errno.ENOENT, "gone")
            ename, fname = self._nodes[nodeid]
            if fname != "inblob":
                raise OSError(errno.EACCES, "read-only")
            entry = self._entries[ename]
            if offset + len(data) > INBLOB_MAX:
                raise OSError(errno.EINVAL, "inblob holds at most 64 bytes")
            entry.inblob[offset : offset + len(data)] = data
            entry.generation += 1  # configfs-tsm counts every write
            return struct.pack("<II", len(data), 0)
        if opcode in (FUSE_RELEASE, FUSE_FLUSH, FUSE_RELEASEDIR):
            return b""
        if opcode == FUSE_READDIR:
            _fh, offset, size, _flags = _RW_IN.unpack_from(body)
            if nodeid == 1:
                names = [(e.ino, e.name, stat.S_IFDIR) for e in self._entries.values()]
            else:
                ename, _ = self._nodes[nodeid]
                names = [(i, n, stat.S_IFREG) for n, i in self._entries[ename].files.items()]
            out = b""
            for index, (ino, name, mode) in enumerate(names[offset:], start=offset + 1):
                raw = name.encode()
                rec = _DIRENT.pack(ino, index, len(raw), mode >> 12) + raw
                rec += b"\0" * (-len(rec) % 8)
                if len(out) + len(rec) > size:
                    break
                out += rec
            return out
        raise OSError(errno.ENOSYS, "not implemented")

    def _alloc(self, entry: str, name: str | None) -> int:
        ino = self._next_ino
        self._next_ino += 1
        self._nodes[ino] = (entry, name)
        return ino

    def _serve(self) -> None:
        while True:
            try:
                req = os.read(self.fd, _READ_BUFFER)
            except OSError as exc:
                if exc.errno in (errno.EINTR, errno.EAGAIN, errno.ENOENT):
                    continue  # an interrupted request
                return  # ENODEV: unmounted
            if len(req) < _IN_HEADER.size:
                continue
            _len, opcode, unique, nodeid, *_ = _IN_HEADER.unpack_from(req)
            if opcode in _NO_REPLY:
                continue
            body = req[_IN_HEADER.size :]
            try:
                payload, error = self._handle(opcode, nodeid, body), 0
            except OSError as exc:
                payload, error = b"", -(exc.errno or errno.EIO)
            except Exception:  # a bug here must not hang the kernel's callers
                payload, error = b"", -errno.EIO
            with contextlib.suppress(OSError):  # ENOENT: the caller was interrupted
                os.write(self.fd, _OUT_HEADER.pack(_OUT_HEADER.size + len(payload), error, unique)
                         + payload)  # fmt: skip
            if opcode == FUSE_DESTROY:
                return


@contextlib.contextmanager
def mounted(host: FakeTdxHost, path: Path, td: TdKnobs | None = None) -> Iterator[ConfigfsTsm]:
    tsm = host.mount(path, td)
    try:
        yield tsm
    finally:
        tsm.stop()


def main() -> None:  # pragma: no cover - a tool for manual runs
    ap = argparse.ArgumentParser(description="fake configfs-tsm over FUSE (tests/fakes/tsm.py)")
    ap.add_argument("--mount", required=True, type=Path)
    ap.add_argument("--debug", action="store_true")
    ap.add_argument("--tcb", choices=["UpToDate", "OutOfDate"], default="UpToDate")
    ap.add_argument("--mr-td", default=None, help="MRTD as 96 hex digits")
    ap.add_argument("--collateral-out", type=Path, required=True)
    ap.add_argument("--root-fingerprint-out", type=Path, required=True)
    args = ap.parse_args()
    host = FakeTdxHost()
    td = TdKnobs(
        mr_td=bytes.fromhex(args.mr_td) if args.mr_td else DEFAULT_MR_TD,
        debug=args.debug,
        tcb=args.tcb,
    )
    host.collateral_file(args.collateral_out)
    args.root_fingerprint_out.write_text(host.root_fingerprint + "\n")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with mounted(host, args.mount, td), contextlib.suppress(KeyboardInterrupt):
        stop.wait()


if __name__ == "__main__":  # pragma: no cover
    main()

__all__ = [
    "DEFAULT_MR_TD",
    "DEFAULT_RTMRS",
    "ConfigfsTsm",
    "FakeTdxHost",
    "FuseUnavailable",
    "TdKnobs",
    "fuse_available",
    "mounted",
]
