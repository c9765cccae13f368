"""Start and stop a private PostgreSQL server for the record suite, and hand out a fresh database per test.

Why a real server and not a mock: the record's promise (every tap committed before it is confirmed) is a
promise about the server's transactions, locks and errors; only a running PostgreSQL can break it. The
server lives in a temporary folder, listens on 127.0.0.1 on a free port and on a private socket folder,
and is stopped when the test session ends. PostgreSQL refuses to run as root: when we are root it runs as
the `postgres` OS user (the Debian package creates it), in a folder that user owns.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from support.required import missing

INSTALLED = Path("/usr/lib/postgresql")
"""Where Debian installs each major version's server programs (`<major>/bin`)."""
INSTALL_HINT = "install it with `sudo apt-get install -y postgresql` (or `scripts/system-deps.sh test`)"
TEMPLATE = "template0"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server can be started here; the message says what is missing."""


def missing_postgres(reason: str) -> NoReturn:
    """In CI (CI=true) a missing server fails the run: the record suite must run on both backends there.
    Elsewhere the PostgreSQL runs are skipped, saying how to install it."""
    missing("PostgreSQL", reason)


def _bin_dir() -> Path:
    """The newest installed server's programs (Debian keeps them under /usr/lib/postgresql/<major>/bin)."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    installed = INSTALLED.glob("*/bin/initdb")
    versions = sorted(installed, key=lambda p: int(p.parent.parent.name), reverse=True)
    if not versions:
        raise PostgresUnavailable(f"PostgreSQL's initdb was not found: {INSTALL_HINT}")
    return versions[0].parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PostgresServer:
    """A running private server; `fresh_url()` creates an empty database on it for one test."""

    folder: Path
    port: int
    bin_dir: Path
    user: str
    owner: str | None
    """The OS user the server runs as (None: the current one)."""
    _names: Iterator[int] = field(default_factory=itertools.count)

    @property
    def admin_url(self) -> str:
        return self.url("postgres")

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def fresh_url(self) -> str:
        """A new, empty database (its own name, never reused within the session)."""
        import psycopg

        name = f"companion_test_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE}')
        return self.url(name)

    def drop(self, url: str) -> None:
        """Remove a test's database (its connections are closed first)."""
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def pg_ctl(self, *args: str) -> None:
        _run(self.owner, [str(self.bin_dir / "pg_ctl"), "-D", str(self.folder / "data"), *args])

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder / 'socket'} -c fsync=on"
        self.pg_ctl("-w", "-t", "30", "-l", str(self.folder / "server.log"), "-o", options, "start")

    def stop(self) -> None:
        self.pg_ctl("-w", "-t", "30", "-m", "fast", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()


def _run(owner: str | None, command: list[str]) -> None:
    if owner is not None:
        command = ["runuser", "-u", owner, "--", *command]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        output = done.stderr or done.stdout
        raise PostgresUnavailable(f"{' '.join(command)} failed ({done.returncode}): {output}")


def _owner() -> str | None:
    """Who runs the server: ourselves, or the `postgres` user when we are root (the server refuses root)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise PostgresUnavailable(f"running as root and there is no `postgres` user: {INSTALL_HINT}") from exc
    return "postgres"


@contextlib.contextmanager
def private_postgres() -> Iterator[PostgresServer]:
    """initdb + start a server in a new temporary folder; stop it and remove the folder at the end."""
    try:
        import psycopg  # noqa: F401  (the record's PostgreSQL driver: without it nothing here can run)
    except ImportError as exc:
        raise PostgresUnavailable("psycopg is not installed: run `make` (it installs it)") from exc
    bin_dir = _bin_dir()
    owner = _owner()
    folder = Path(tempfile.mkdtemp(prefix="companion-pg-"))
    try:
        (folder / "socket").mkdir()
        if owner is not None:
            entry = pwd.getpwnam(owner)
            for path in (folder, folder / "socket"):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        user = owner or pwd.getpwuid(os.geteuid()).pw_name
        _run(
            owner,
            [
                str(bin_dir / "initdb"),
                "-D",
                str(folder / "data"),
                "-U",
                user,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-instructions",
            ],
        )
        server = PostgresServer(folder, _free_port(), bin_dir, user, owner)
        server.start()
        try:
            yield server
        finally:
            with contextlib.suppress(PostgresUnavailable):
                server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def postgres_for_tests() -> Iterator[PostgresServer]:
    """A fixture's body: `private_postgres`, or, when no server can run here, a failure in CI and a skip
    elsewhere (`missing_postgres`)."""
    try:
        with private_postgres() as server:
            yield server
    except PostgresUnavailable as exc:
        missing_postgres(str(exc))
