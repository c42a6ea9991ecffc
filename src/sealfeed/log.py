"""Logging setup shared by every command and service (conventions.md "Logging").

One JSON object per line when stderr is not a TTY (``ts``, ``level``, ``component``,
``event`` + fields from ``extra=``), plain text on a TTY. A redaction filter removes every
known :class:`~sealfeed.secret.Secret` value and password/Authorization fields.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

from sealfeed.secret import MASK, known_secret_values

_STD_ATTRS = frozenset(
    vars(logging.LogRecord("x", 0, "x", 0, "x", None, None)).keys() | {"message", "asctime"}
)
_SENSITIVE_KEYS = re.compile(r"(?i)(password|passwd|secret|token|authorization|api[_-]?key)")
_AUTH_HEADER = re.compile(r"(?i)(authorization\s*[:=]\s*)(\S+(\s+\S+)?)")
_URL_CREDS = re.compile(r"(?i)([a-z][a-z0-9+.-]*://[^/\s:@]+:)([^@\s/]+)(@)")


def redact(text: str) -> str:
    """Remove secret values, Authorization header values and URL passwords from ``text``."""
    for value in known_secret_values():
        if value in text:
            text = text.replace(value, MASK)
    text = _AUTH_HEADER.sub(lambda m: m.group(1) + MASK, text)
    return _URL_CREDS.sub(lambda m: m.group(1) + MASK + m.group(3), text)


def _clean(key: str, value: Any) -> Any:
    if _SENSITIVE_KEYS.search(key):
        return MASK
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _clean(str(k), v) for k, v in value.items()}
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return redact(str(value))


class RedactingFilter(logging.Filter):
    """Applied to every handler: secrets never reach a log sink."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        for key in list(vars(record)):
            if key not in _STD_ATTRS:
                setattr(record, key, _clean(key, getattr(record, key)))
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "component": record.name.removeprefix("sealfeed.").split(".")[0],
            "event": getattr(record, "event", None) or record.getMessage(),
        }
        if getattr(record, "event", None):
            doc["msg"] = record.getMessage()
        for key, value in vars(record).items():
            if key not in _STD_ATTRS and key != "event":
                doc[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            doc["error"] = redact(f"{record.exc_info[0].__name__}: {record.exc_info[1]}")
        return json.dumps(doc, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(
            f"{k}={v}" for k, v in vars(record).items() if k not in _STD_ATTRS and k != "event"
        )
        line = f"{record.levelname.lower():7} {record.name}: {record.getMessage()}"
        return f"{line} {extras}" if extras else line


def setup_logging(level: str | int = "INFO", *, json_lines: bool | None = None) -> None:
    """Install one stderr handler with redaction; JSON lines unless stderr is a TTY."""
    if json_lines is None:
        json_lines = not sys.stderr.isatty()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())


__all__ = ["JsonFormatter", "RedactingFilter", "redact", "setup_logging"]
