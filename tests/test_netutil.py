from __future__ import annotations

import pytest

from sealfeed.netutil import reachable_host


@pytest.mark.parametrize(
    ("bind", "reach"),
    [("", "127.0.0.1"), ("0.0.0.0", "127.0.0.1"), ("::", "127.0.0.1"), ("127.0.0.1", "127.0.0.1"),
     ("10.1.2.3", "10.1.2.3"), ("::1", "::1"), ("node-1", "node-1")],
)  # fmt: skip
def test_reachable_host(bind: str, reach: str) -> None:
    assert reachable_host(bind) == reach
