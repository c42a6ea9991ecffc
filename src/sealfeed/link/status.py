"""Reading and showing the link's status file (``sealfeed link status``; phase 2 wires it
into ``sealfeed status``). The service rewrites the file atomically about once a second
while anything changes; ``updated`` says when."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from sealfeed.errors import InputError

DEFAULT_STATUS_PATH = "/run/sealfeed/link/status.json"


def read_status(path: str | os.PathLike[str]) -> dict[str, Any]:
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("no link status here (is `sealfeed link serve` running?)",
                         location=str(p)) from None  # fmt: skip
    except (OSError, ValueError) as exc:
        raise InputError(f"unreadable link status: {exc}", location=str(p)) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("peers"), list):
        raise InputError("not a link status document", location=str(p))
    return doc


def _ago(ts: Any, now: float) -> str:
    if not isinstance(ts, (int, float)) or ts <= 0:
        return "never"
    return f"{max(0.0, now - ts):.0f}s ago"


def format_status(doc: dict[str, Any], now: float | None = None) -> str:
    """A table: one line per peer (verified, last verification, tunnels, last failure)."""
    now = time.time() if now is None else now
    bound = doc.get("listen") or {}
    listen = bound.get("listen", "-") if isinstance(bound, dict) else "-"
    endpoints = len(bound) - (1 if "listen" in bound else 0) if isinstance(bound, dict) else 0
    head = (
        f"vm {doc.get('vm')}  listen {listen}  endpoints {endpoints}  "
        f"updated {_ago(doc.get('updated'), now)}"
    )
    if doc.get("stopped"):
        head += "  (stopped)"
    lines = [
        head,
        f"{'PEER':16} {'VERIFIED':8} {'LAST OK':>10} {'IN':>3} {'OUT':>3} {'MEASUREMENT':20} LAST FAILURE",
    ]
    for p in doc.get("peers", []):
        adm = p.get("admission") or {}
        fail = p.get("last_failure") or {}
        tunnels = p.get("tunnels") or {}
        last_fail = f"{fail.get('reason')}: {fail.get('detail', '')}"[:80] if fail else "-"
        lines.append(
            f"{p.get('name')!s:16} {'yes' if p.get('verified') else 'NO':8} "
            f"{_ago(p.get('last_verified'), now):>10} {tunnels.get('inbound', 0):>3} "
            f"{tunnels.get('outbound', 0):>3} {str(adm.get('measurement_id', '-'))[:20]:20} {last_fail}"
        )
    return "\n".join(lines)


__all__ = ["DEFAULT_STATUS_PATH", "format_status", "read_status"]
