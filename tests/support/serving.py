"""Support for the `companion serve` tests: a served server process, and a caseload for its app.

`Served` runs a server command (`companion serve ...`, so each tab runs the real app) as a real
subprocess, waits until it announces its address, and stops it the way a therapist does (Ctrl+C),
checking it exits cleanly. `add_clients` prepares the data folder through the record API.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from companion.record import Event, MasteryCriterion, Record

_ANNOUNCED = re.compile(r"^\s*Open: (?P<url>\S+)$")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class Served:
    """A server subprocess and everything it printed (read continuously so its pipe never fills)."""

    def __init__(
        self, argv: list[str], data_dir: Path, env: dict[str, str] | None = None, startup_seconds: float = 20
    ) -> None:
        env = dict(os.environ, COMPANION_DATA_DIR=str(data_dir), COLUMNS="200", **(env or {}))
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.url = self._wait_for_address(startup_seconds)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def _wait_for_address(self, seconds: float) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if match := _ANNOUNCED.match(line):
                    return match["url"]
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.proc.kill()
        self.proc.wait()
        raise AssertionError(f"the server did not announce its address:\n{self.output}")

    def wait_for_output(self, text: str, seconds: float = 20) -> None:
        deadline = time.monotonic() + seconds
        while text not in self.output:
            assert time.monotonic() < deadline, f"{text!r} never printed:\n{self.output}"
            time.sleep(0.05)

    @contextmanager
    def explaining_failures(self) -> Iterator[None]:
        """Add what the server printed (its tabs' app errors included) to any assertion failing inside."""
        try:
            yield
        except AssertionError as failure:
            raise AssertionError(f"{failure}\n--- the server printed ---\n{self.output}") from None

    def stop(self, seconds: float = 30) -> int:
        """Ctrl+C, as a therapist would; returns the exit status (killing it only if it hangs)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=seconds)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"the server ignored Ctrl+C for {seconds} s:\n{self.output}") from None
        self._reader.join(timeout=5)
        return self.proc.returncode


CLIENTS = ("Robin", "Sasha")


def add_clients(data_dir: Path, names: Sequence[str] = CLIENTS) -> None:
    """A caseload the app opens on: each client with one gait objective, as a therapist sets it up."""
    with Record.open(data_dir, backup_every=None) as record:
        for name in names:
            client = record.caseload.add_client(name, population="stroke, gait")
            goal = record.caseload.add_goal(client.id, "gross motor", "Walk with a steady cadence")
            record.caseload.add_objective(
                goal.id, "Steps on the beat at 90 bpm", MasteryCriterion("percent_correct", 80, 3)
            )


def trials_logged(data_dir: Path) -> list[Event]:
    """Every trial in the session record, read back through the record layer from the file on disk."""
    with Record.open(data_dir, backup_every=None) as record:
        sessions = record.sessions.sessions(second_observers=True)  # a colleague's blind taps count too
        trials = [e for s in sessions for e in record.events.session_events(s.id) if e.kind == "trial"]
        return sorted(trials, key=lambda e: e.wall_time)  # in the order they were tapped
