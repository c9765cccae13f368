"""Which binds stay on this computer, and the address a tablet is told to open."""

from __future__ import annotations

import ipaddress

import pytest

from companion.serve.addresses import address_to_announce, http_url, is_loopback
from companion.serve.server import tab_origin


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST", "127.0.0.1", "127.8.9.10", "::1", "[::1]"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host", ["0.0.0.0", "::", "192.168.1.5", "10.0.0.2", "companion.local", "localhost.evil"]
)
def test_hosts_other_devices_can_reach(host: str) -> None:
    assert not is_loopback(host)


@pytest.mark.parametrize("wildcard", ["0.0.0.0", "::"])
def test_a_wildcard_bind_announces_an_address_a_tablet_can_use(wildcard: str) -> None:
    announced = address_to_announce(wildcard)
    assert announced not in {"0.0.0.0", "::", ""}
    try:
        assert not ipaddress.ip_address(announced).is_unspecified
    except ValueError:
        assert announced  # no route: the computer's host name instead


def test_a_specific_bind_is_announced_as_given() -> None:
    assert address_to_announce("192.168.1.5") == "192.168.1.5"
    assert address_to_announce("127.0.0.1") == "127.0.0.1"


def test_urls() -> None:
    assert http_url("127.0.0.1", 8000) == "http://127.0.0.1:8000"
    assert http_url("::1", 8000) == "http://[::1]:8000"
    assert http_url("[::1]", 8000) == "http://[::1]:8000"
    assert http_url("tablet-host", 80) == "http://tablet-host"


def test_tab_origins_name_the_device() -> None:
    assert tab_origin("127.0.0.1") == "a browser tab on this computer"
    assert tab_origin("::1") == "a browser tab on this computer"
    assert tab_origin("192.168.1.20") == "a browser tab on 192.168.1.20"
    assert tab_origin(None) == "a browser tab"
