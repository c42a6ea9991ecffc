"""The one exception hierarchy and the one exit-code table (conventions.md "Errors").

Every failure a user can cause or meet is a :class:`SealfeedError`; the CLI turns it into
``sealfeed: <location>: <message>`` on stderr and the exit code it carries. Anything else
that escapes is a bug and is reported as one.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Exit codes shared by every command (documented in docs/cli.md)."""

    OK = 0
    #: a verification or check ran and said no (bad signature, policy mismatch, ...)
    FAILED = 1
    #: bad input or usage (malformed file, unknown flag, invalid value)
    USAGE = 2
    #: an external dependency failed (server unreachable, tool missing)
    EXTERNAL = 3
    #: an internal bug (an exception that is not a SealfeedError), or a broken installation
    BUG = 70
    #: interrupted by the user (Ctrl-C): 128 + SIGINT, as shells report it
    INTERRUPTED = 130


class SealfeedError(Exception):
    """Base error: a message for humans, an exit code and, where it applies, a location.

    ``location`` is a file path, a JSON path (``aggregator.sources.kraken.ttl_ms``) or a
    byte offset (``quote@0x30``) -- whatever lets the reader find the problem.
    """

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(
        self,
        message: str,
        *,
        location: str | None = None,
        exit_code: ExitCode | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class InputError(SealfeedError):
    """Malformed or invalid input (exit 2)."""

    exit_code = ExitCode.USAGE


class VerificationError(SealfeedError):
    """A check ran and failed: signature, quote, policy, binding (exit 1)."""

    exit_code = ExitCode.FAILED


class ExternalError(SealfeedError):
    """An external dependency failed: network, server, missing tool (exit 3)."""

    exit_code = ExitCode.EXTERNAL


__all__ = ["ExitCode", "ExternalError", "InputError", "SealfeedError", "VerificationError"]
