"""Ask the TDX module for a quote through Linux configfs-tsm (the appliance side).

ABI (Linux ``Documentation/ABI/testing/configfs-tsm``): ``mkdir`` an entry under
``/sys/kernel/config/tsm/report/``, write up to 64 bytes of report data to ``inblob``, read the
quote from ``outblob``. ``generation`` counts writes to the entry; reading it before and after
``outblob`` detects a concurrent writer (then the quote may not be for our data: retry).
``provider`` names the TEE (``tdx_guest``). The entry is removed afterwards.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from sealfeed.errors import ExternalError, InputError

TSM_REPORT_ROOT = Path("/sys/kernel/config/tsm/report")
REPORT_DATA_SIZE = 64


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ExternalError(
            f"cannot read {path.name}: {exc.strerror}", location=str(path)
        ) from None


def request_quote(
    report_data: bytes,
    *,
    root: str | os.PathLike[str] = TSM_REPORT_ROOT,
    attempts: int = 3,
    make_entry: Callable[[Path], None] = Path.mkdir,
) -> bytes:
    """The quote whose report_data is ``report_data`` (padded with zeros to 64 bytes).

    ``make_entry`` creates the report entry; on configfs a plain ``mkdir`` also creates its
    attribute files (tests pass a fake kernel that does the same)."""
    if len(report_data) > REPORT_DATA_SIZE:
        raise InputError(f"report data is {len(report_data)} bytes; at most {REPORT_DATA_SIZE}")
    base = Path(root)
    if not base.is_dir():
        raise ExternalError(
            "configfs-tsm is not available (not a TDX guest, or configfs not mounted)",
            location=str(base),
        )
    blob = report_data.ljust(REPORT_DATA_SIZE, b"\0")
    for _ in range(attempts):
        entry = base / f"sealfeed-{secrets.token_hex(8)}"
        try:
            make_entry(entry)
        except OSError as exc:
            raise ExternalError(
                f"cannot create a report entry: {exc.strerror}", location=str(base)
            ) from None
        try:
            try:
                (entry / "inblob").write_bytes(blob)
            except OSError as exc:
                raise ExternalError(
                    f"cannot write inblob: {exc.strerror}", location=str(entry)
                ) from None
            before = _read(entry / "generation").strip()
            quote = _read(entry / "outblob")
            after = _read(entry / "generation").strip()
            if before == after and quote:
                return quote
        finally:
            with contextlib.suppress(OSError):
                entry.rmdir()
    raise ExternalError(
        "the report entry kept changing under us (concurrent writer)", location=str(base)
    )


__all__ = ["REPORT_DATA_SIZE", "TSM_REPORT_ROOT", "request_quote"]
