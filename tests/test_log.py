"""Logging: JSON lines, and secrets never reach a log sink."""

from __future__ import annotations

import io
import json
import logging

import pytest

from sealfeed.log import JsonFormatter, RedactingFilter, redact
from sealfeed.secret import Secret


@pytest.fixture
def capture() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("sealfeed.testcomponent")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, stream


def test_json_line_shape(capture: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = capture
    logger.info("source down", extra={"event": "upstream_error", "source": "kraken", "status": 502})
    doc = json.loads(stream.getvalue())
    assert doc["level"] == "info" and doc["component"] == "testcomponent"
    assert doc["event"] == "upstream_error" and doc["source"] == "kraken" and doc["status"] == 502
    assert doc["ts"].endswith("Z")


def test_secret_values_are_redacted_everywhere(capture: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = capture
    pw = Secret("hunter2-very-secret")
    logger.info(
        "connecting with %s",
        pw.reveal(),
        extra={"event": "x", "dsn": f"postgresql://u:{pw.reveal()}@/db"},
    )
    logger.info(
        "header",
        extra={"event": "y", "password": "plain", "headers": {"Authorization": "Bearer abc"}},
    )
    logger.info("Authorization: Basic dXNlcjpwYXNz", extra={"event": "z"})
    out = stream.getvalue()
    for leaked in ("hunter2-very-secret", "plain", "Bearer abc", "dXNlcjpwYXNz"):
        assert leaked not in out


def test_secret_repr_and_format() -> None:
    s = Secret("abcdef")
    assert repr(s) == "Secret('***')" and str(s) == "***" and f"{s}" == "***"
    assert s.reveal() == "abcdef"
    assert redact("https://user:pw12345@proxy:8080/") == "https://user:***@proxy:8080/"
