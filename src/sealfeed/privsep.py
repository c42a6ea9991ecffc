"""Privilege separation shared by the services that start as root and drop (ADRs 0133, 0145).

The pattern: as root, before any thread, configuration, secret or socket exists, fork a
small helper that keeps root and answers one narrow question over a socket pair
(:func:`fork_helper`); then the service drops to its own account for good
(:func:`drop_privileges`). The helper ends when its peer closes the pair.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from collections.abc import Callable

from sealfeed.errors import ExternalError, InputError


def _keep_only(fd: int) -> None:
    """Close every inherited descriptor but ``fd`` and 0-2 (the readiness pipe among them:
    only the service itself may say it is ready)."""
    try:
        open_fds = [int(x) for x in os.listdir("/proc/self/fd")]
    except OSError:
        open_fds = list(range(3, 1024))
    for other in open_fds:
        if other > 2 and other != fd:
            with contextlib.suppress(OSError):
                os.close(other)


def fork_helper(serve: Callable[[socket.socket], None]) -> tuple[socket.socket, int]:
    """Fork a helper that runs ``serve(its end of a socket pair)`` with nothing else open,
    in its own session, deaf to SIGTERM/SIGINT/SIGHUP (it ends on EOF, when the parent does);
    it exits 0 when ``serve`` returns, 1 when it raises. Returns (our end, its pid)."""
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:  # the helper
        code = 0
        try:
            parent.close()
            _keep_only(child.fileno())
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(sig, signal.SIG_IGN)
            with contextlib.suppress(OSError):
                os.setsid()
            serve(child)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    child.close()
    return parent, pid


class HelperChannel:
    """The unprivileged end of a :func:`fork_helper` pair: a byte stream of JSON lines;
    :meth:`close` ends the helper (EOF) and reaps it."""

    def __init__(self, sock: socket.socket, pid: int) -> None:
        self.sock = sock
        self.pid = pid
        self._stream = sock.makefile("rwb", buffering=0)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._stream.close()
            self.sock.close()
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(self.pid, 0)


def account_ids(account: str) -> tuple[int, int]:
    """(uid, gid) of the ``--user`` account (InputError when it does not exist here)."""
    import pwd

    try:
        pw = pwd.getpwnam(account)
    except KeyError:
        raise InputError(f"no such account {account!r}", location="--user") from None
    return pw.pw_uid, pw.pw_gid


def drop_privileges(account: str) -> tuple[int, int]:
    """setgroups([gid]) / setgid / setuid to ``account`` for good; (uid, gid). Checks that
    root cannot be regained. Already running as ``account``: nothing to do."""
    uid, gid = account_ids(account)
    if os.geteuid() != 0:
        if os.geteuid() == uid:
            return uid, gid
        raise InputError(f"--user {account} needs to start as root", location="--user")
    os.setgroups([gid])
    os.setgid(gid)
    os.setuid(uid)
    try:
        os.setuid(0)
    except PermissionError:
        return uid, gid
    raise ExternalError("dropping privileges failed: root could be regained")  # pragma: no cover


__all__ = ["HelperChannel", "account_ids", "drop_privileges", "fork_helper"]
