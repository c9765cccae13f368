"""Support for the `companion serve` tests: a served server process, and a minimal stand-in app.

`Served` runs a server command as a real subprocess, waits until it announces its address, and stops it
the way a therapist does (Ctrl+C), checking it exits cleanly.

`TapApp` stands in for the Companion app until the real app is merged, and does only what the browser
test needs: two quick-tap buttons (correct, incorrect) logging trials through the real session record (a
session of the record's first client), and the audio/MIDI ownership rule (take `OutputLock` on start; if
another session has it, show the holder's description). `python tests/serve_support.py` runs the app, as
a served tab does; `python tests/serve_support.py serve PORT` serves it with Companion's server on
127.0.0.1.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Static

from companion.output_lock import OutputLock
from companion.record import Event, EventDraft, Record, Trial

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


def add_client(data_dir: Path, name: str = "Robin") -> None:
    """Give the data folder the client the stand-in app opens a session for."""
    with Record.open(data_dir, backup_every=None) as record:
        record.add_client(name)


def trials_logged(data_dir: Path) -> list[Event]:
    """Every trial in the session record, read back through the record layer from the file on disk."""
    with Record.open(data_dir, backup_every=None) as record:
        return record.query_events("kind = ?", ("trial",))


class TapApp(App[None]):
    """Two quick-tap buttons on a session of the record's first client, plus the outputs rule."""

    CSS = """
    #outputs { height: 3; }
    #pad { height: 5; }
    #pad Button { width: 1fr; height: 3; margin: 1 2; }
    """

    def __init__(self, data_dir: Path) -> None:
        super().__init__()
        self.data_dir = data_dir

    def compose(self) -> ComposeResult:
        yield Static(id="outputs")
        with Horizontal(id="pad"):
            yield Button("+ correct", id="correct", variant="success")
            yield Button("- incorrect", id="incorrect", variant="error")

    def on_mount(self) -> None:
        self.record = Record.open(self.data_dir, backup_every=None)
        self.client = self.record.clients()[0]
        self.session = self.record.start_session([self.client.id], setting="browser test")
        self.lock = OutputLock.acquire(self.data_dir)
        if self.lock is not None:
            status = "outputs: this session plays"
        else:
            holder = OutputLock.holder_of(self.data_dir)
            status = holder.describe() if holder else "outputs: free"
        self.query_one("#outputs", Static).update(status)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        trial = Trial(correct=event.button.id == "correct", prompt_level="independent")
        self.record.log(self.session.id, EventDraft(trial, client_id=self.client.id))

    def on_unmount(self) -> None:
        self.record.close()


def _serve(port: int) -> None:
    from companion.serve.server import CompanionServer, access_for_bind

    command = "exec " + shlex.join([sys.executable, str(Path(__file__).resolve())])
    CompanionServer(command, host="127.0.0.1", port=port, policy=access_for_bind("127.0.0.1", None)).serve()


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        _serve(int(sys.argv[2]))
    else:
        TapApp(Path(os.environ["COMPANION_DATA_DIR"])).run()
