"""Where to *reach* a service that was told where to *listen*."""

from __future__ import annotations

import ipaddress


def reachable_host(bind_host: str) -> str:
    """A wildcard bind (``""``, any unspecified IPv4/IPv6 address) is reached over loopback;
    any other host is used as given."""
    if not bind_host:
        return "127.0.0.1"
    try:
        unspecified = ipaddress.ip_address(bind_host).is_unspecified
    except ValueError:
        return bind_host  # a name
    return "127.0.0.1" if unspecified else bind_host


__all__ = ["reachable_host"]
