"""Shared fixtures; what they are built from lives in `tests/support/`.

The JACK fixture starts a real `jackd -d dummy` server (see `support.jackd`): it gives tests real audio and
MIDI ports without any sound card. Each test run uses its own server name so parallel runs never share
a server. In CI (CI=true) a missing JACK is a failure, not a skip: the timing tests are the point of the
engine. The same holds for the PostgreSQL server (`support.postgres`) the record suite also runs on, and
the Secret Service (`support.secret_service`) the OS keyring tests of encryption at rest talk to.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.host_steal import steal_seconds
from support.jackd import JackServer, JackUnavailable, dummy_jack
from support.postgres import PostgresServer, postgres_for_tests
from support.practice import Practice, make_practice, make_practice_with_songs
from support.required import missing
from support.secret_service import SecretServiceUnavailable, private_secret_service
from support.staffed import Staffed, make_staffed

from audio.engine_process import EngineProcess
from companion.record import Record
from companion.record.keys import PASSPHRASE_VAR
from interventions import Library

BACKENDS = ("sqlite", "postgresql")
"""What the record suite runs on: every `test_record_*.py` test runs once on each (see `record_backend`)."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The record suite (`test_record_*.py`) runs on SQLite and on PostgreSQL, except a test marked
    `sqlite_only` (it is about SQLite's files: their modes, WAL, encryption, a disk that fills) or
    `postgresql_only` (its SQLite twin is about the file: a lock held on the server, say)."""
    if not metafunc.module.__name__.startswith("test_record_"):
        return
    if metafunc.definition.get_closest_marker("sqlite_only") is not None:
        return
    only_postgresql = metafunc.definition.get_closest_marker("postgresql_only") is not None
    metafunc.parametrize("record_backend", BACKENDS[1:] if only_postgresql else BACKENDS, indirect=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that needs the JACK server is marked `jack`, whether it asks for it directly or through
    another fixture: `make test-fast` leaves them out by that mark, and none can be forgotten."""
    for item in items:
        if "jack_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.jack)


_STEAL_AT_START = steal_seconds()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How quiet the machine was for the JACK tests: retakes, the server's scheduling and stolen CPU time,
    so a CI log tells a busy host from an engine fault."""
    takes = sys.modules.get("support.engine_takes")
    if takes is None:
        return
    now = steal_seconds()
    steal = f"{now - _STEAL_AT_START:.1f} s" if now is not None and _STEAL_AT_START is not None else "unknown"
    terminalreporter.write_line(
        f"JACK witnesses: {len(takes.RETAKES)} retakes (waited {sum(takes.QUIET_WAITS):.1f} s in all for a "
        f"quiet host); jackd {_scheduling(_SERVER)}; "
        f"CPU time stolen by the host: {steal}"
    )
    for trouble in takes.RETAKES:
        terminalreporter.write_line(f"  retake: {trouble}")


_SERVER: JackServer | None = None


def _scheduling(server: JackServer | None) -> str:
    """Whether jackd asked for realtime scheduling and whether its log says it was refused."""
    if server is None:
        return "not started"
    if not server.realtime:
        return "not realtime (not allowed for this user)"
    log = server.log.read_text(errors="replace") if server.log is not None and server.log.exists() else ""
    refused = [line for line in log.splitlines() if "real" in line.lower() and "cannot" in line.lower()]
    return f"realtime refused: {refused[0]}" if refused else "realtime"


@pytest.fixture(scope="session")
def jack_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JackServer]:
    """Start `jackd -d dummy -r 48000 -p 128` for the whole test session and point every client at it."""
    try:
        with dummy_jack(log_dir=tmp_path_factory.mktemp("jack")) as server:
            global _SERVER
            _SERVER = server
            yield server
    except JackUnavailable as exc:
        missing("JACK", str(exc))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A private PostgreSQL server (`support.postgres`) for the whole test session, stopped at its end."""
    yield from postgres_for_tests()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the test server, dropped after the test."""
    url = postgres_server.fresh_url()
    yield url
    postgres_server.drop(url)


@pytest.fixture(scope="session")
def secret_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private Secret Service (GNOME Keyring on its own D-Bus, `support.secret_service`) for the whole
    test session: its bus address."""
    try:
        with private_secret_service(tmp_path_factory.mktemp("keyring")) as address:
            yield address
    except SecretServiceUnavailable as exc:
        missing("A Secret Service (D-Bus and GNOME Keyring)", str(exc))


@pytest.fixture
def os_keyring(secret_service: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The OS keyring of this test is the private Secret Service (never the user's own), and no passphrase
    is set: what opens a keyring folder is the key in it."""
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service)
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    monkeypatch.delenv(PASSPHRASE_VAR, raising=False)
    return secret_service


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Library:
    """The shipped plans only (an empty folder of the user's own), loaded once per test module."""
    return Library.load(tmp_path_factory.mktemp("no-user-plans"))


@pytest.fixture
def engine() -> Iterator[EngineProcess]:
    """A private engine process, for tests that kill or freeze it (other tests share the default one).
    A test that needs JACK asks for `jack_server` first, so the engine starts on the test server."""
    process = EngineProcess().start()
    yield process
    process.close()


@pytest.fixture(autouse=True)
def record_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Where every `Record.open` of the test goes: the SQLite file in its data folder (the default), or,
    for the record suite's second run, a fresh database on the test's PostgreSQL server, given through
    COMPANION_DATABASE_URL as a practice gives it (so re-opening and CLI subprocesses reach it too)."""
    backend = str(getattr(request, "param", "sqlite"))
    if backend == "postgresql":
        monkeypatch.setenv("COMPANION_DATABASE_URL", request.getfixturevalue("postgres_url"))
    else:
        monkeypatch.delenv("COMPANION_DATABASE_URL", raising=False)
    return backend


@pytest.fixture
def record(tmp_path: Path, record_backend: str) -> Iterator[Record]:
    """An empty record in `tmp_path`, without backups, closed after the test."""
    with Record.open(tmp_path, backup_every=None) as opened:
        yield opened


@pytest.fixture
def impatient_record(tmp_path: Path) -> Iterator[Record]:
    """An empty record in `tmp_path / "data"` that waits only 0.2 s for a locked database, and at the end
    closes its database without retrying pending events: for tests that leave events pending on purpose
    (a locked database, a full disk)."""
    opened = Record.open(tmp_path / "data", busy_timeout=0.2, backup_every=None)
    yield opened
    opened.database.close()


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's cache folder (the second rescue place) inside the test's folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def data(tmp_path: Path, cache_home: Path) -> Path:
    """A data folder not created yet, whose rescue files stay inside the test's folder too."""
    return tmp_path / "data"


@pytest.fixture
def practice(tmp_path: Path) -> Practice:
    """The seeded practice (`support.practice`: Ava with four past sessions, Ben, Cleo) in a fresh data
    folder, `tmp_path / "data"`."""
    return make_practice(tmp_path / "data")


@pytest.fixture
def practice_with_songs(tmp_path: Path) -> Practice:
    """The seeded practice, but Ava's preferred songs are a broken MIDI file, then the shipped Twinkle:
    the cue tests pick songs from them."""
    return make_practice_with_songs(tmp_path)


@pytest.fixture
def fresh_practice(tmp_path: Path) -> Practice:
    """The seeded practice without Ava's four past sessions: a practice on its first day."""
    return make_practice(tmp_path / "data", history=False)


@pytest.fixture
def staffed(tmp_path: Path) -> Staffed:
    """A practice with staff (`support.staffed`): admin Ada, therapists Tom (Ava) and Tess (Ben),
    supervisor Sue, and Cleo from the solo days, in `tmp_path / "data"`."""
    return make_staffed(tmp_path / "data")


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> None:
    """Local time is UTC, so times of day shown on screen never depend on the machine's zone (snapshots)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
