"""Shared fixtures.

The JACK fixture starts a real `jackd -d dummy` server (see `tests/jackd.py`): it gives tests real audio
and MIDI ports without any sound card. Each test run uses its own server name so parallel runs never share
a server. In CI (CI=true) a missing JACK is a failure, not a skip: the timing tests are the point of the
engine.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from jackd import JackServer, JackUnavailable, dummy_jack


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that needs the JACK server is marked `jack`, whether it asks for it directly or through
    another fixture: `make test-fast` leaves them out by that mark, and none can be forgotten."""
    for item in items:
        if "jack_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.jack)


def _missing_jack(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"JACK is required in CI but unavailable: {reason}")
    pytest.skip(f"JACK unavailable: {reason}")


@pytest.fixture(scope="session")
def jack_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JackServer]:
    """Start `jackd -d dummy -r 48000 -p 128` for the whole test session and point every client at it."""
    try:
        with dummy_jack(log_dir=tmp_path_factory.mktemp("jack")) as server:
            yield server
    except JackUnavailable as exc:
        _missing_jack(str(exc))
