"""Which addresses are private to this computer, and which address a tablet should be told to open.

Binding to a loopback address keeps the app on this computer, so no token is needed there; anything else
(a LAN address, `0.0.0.0`, a host name) is reachable by other devices and must be token-protected.
"""

from __future__ import annotations

import ipaddress
import socket

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_WILDCARDS = frozenset({"0.0.0.0", "::", ""})
_UNROUTED_PROBE = ("192.0.2.1", 9)
"""TEST-NET-1 (RFC 5737): connecting a UDP socket there picks the outgoing interface; no packet is sent."""


def is_loopback(host: str) -> bool:
    """True only for names and addresses that cannot be reached from another machine."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def address_to_announce(bind_host: str) -> str:
    """The host to print in the URL: the LAN address for a wildcard bind, else the host as given."""
    if bind_host not in _WILDCARDS:
        return bind_host
    return lan_address() or socket.gethostname()


def lan_address() -> str | None:
    """This computer's address on its default route (what a tablet on the same network can reach)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(_UNROUTED_PROBE)
            address: str = probe.getsockname()[0]
    except OSError:
        return None
    return address


def http_url(host: str, port: int) -> str:
    """`http://host:port` with IPv6 literals bracketed and the default port left out."""
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}" if port == 80 else f"http://{shown}:{port}"
