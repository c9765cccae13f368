"""The timing engine's process as the app and the CLI see it: started, called, restarted.

Calls that answer wait for the answer over a local socket (about 0.1 ms); events (beats at their time,
output problems, xrun counts) come back over the same socket to the objects living in the engine
(`audio.engine_client`).

If the engine process dies (a crash, `kill -9`), every metronome hears an `OutputProblem` on the "engine"
output at once, the process is started again and each metronome is rebuilt as it was: outputs opened,
playing again at the tempo reached (without a count-in), its cues attached; then a recovery event says
the engine is back. A call caught in the middle raises `EngineLost` (an `OutputError`).

Why one process per environment: the engine inherits the environment it starts with (which JACK server,
`MIDO_BACKEND`), so a changed environment gets a fresh process; metronomes in the same environment share
one, so starting a metronome costs no process start-up.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, ClassVar, Protocol

from audio import engine_protocol as p
from audio.engine_events import EngineEvent
from audio.errors import OutputError

log = logging.getLogger(__name__)

ENGINE = "engine"
"""The output name of problems with the engine process itself."""
START_TIMEOUT_S = 20.0
CALL_TIMEOUT_S = 30.0
RESTART_TRIES = 5
_ENVIRONMENT_PREFIXES = ("JACK_", "MIDO_", "PA_", "ALSA", "PULSE", "PIPEWIRE")
_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)


class EngineLost(OutputError):
    """The engine process ended while a call waited for it (it is being restarted)."""

    def __init__(self, why: str) -> None:
        super().__init__(f"the timing engine stopped ({why})", "it restarts by itself; try again in a moment")


def _environment_key() -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(_ENVIRONMENT_PREFIXES)))


def _why_ended(returncode: int | None) -> str:
    if returncode is None:
        return "its connection closed"
    if returncode < 0:
        return f"killed by signal {-returncode}"
    return f"exit status {returncode}"


class _PendingCall:
    """One call waiting for its answer."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class EngineTarget(Protocol):
    """What the engine process needs of the objects living in it: events, and rebuilding after a restart."""

    def engine_event(self, event: EngineEvent) -> None: ...
    def engine_lost(self, why: str) -> None: ...
    def engine_back(self) -> None: ...


class EngineProcess:
    """The engine's process, its socket, and the calls and events travelling over it."""

    _shared: ClassVar[dict[tuple[tuple[str, str], ...], EngineProcess]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self) -> None:
        self.hello: p.Hello | None = None
        self.restarts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self._send_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._pending: dict[int, _PendingCall] = {}
        self._requests = itertools.count(1)
        self._handles = itertools.count(1)
        self._targets: dict[int, EngineTarget] = {}
        self._closing = False
        self._up = threading.Event()
        atexit.register(self.close)

    @classmethod
    def shared(cls) -> EngineProcess:
        """The engine process of this environment, started on first use."""
        key = _environment_key()
        with cls._shared_lock:
            engine = cls._shared.get(key)
            if engine is None or engine._closing:
                engine = cls._shared[key] = cls().start()
            for other_key, other in list(cls._shared.items()):  # an old environment's, no longer used
                if other_key != key and not other._targets:
                    del cls._shared[other_key]
                    other.close()
            return engine

    # --- lifecycle --------------------------------------------------------------------------------------

    def start(self) -> EngineProcess:
        """Start the process and wait for its hello; OutputError naming the cause when it cannot start."""
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_ROOT, env.get("PYTHONPATH")]))
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "audio.engine_host", str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=env,
            )
        except OSError as exc:
            raise OutputError(
                f"the timing engine could not start ({exc})", "check that Companion is installed completely"
            ) from None
        finally:
            theirs.close()
        conn = Connection(ours.detach())
        threading.Thread(target=self._drain_stderr, args=(proc,), name="engine-stderr", daemon=True).start()
        if not conn.poll(START_TIMEOUT_S):
            proc.kill()
            raise OutputError(
                f"the timing engine did not start within {START_TIMEOUT_S:g} s",
                "the machine may be overloaded; close other programs and try again",
            )
        try:
            hello = conn.recv()
        except (EOFError, OSError):
            raise OutputError(
                f"the timing engine failed to start ({_why_ended(proc.wait())})",
                "run `companion metronome --seconds 1` in a terminal to see why",
            ) from None
        with self._state_lock:
            self._proc, self._conn, self.hello = proc, conn, hello
            self._closing = False
        self._up.set()
        threading.Thread(target=self._read, args=(conn, proc), name="engine-reader", daemon=True).start()
        return self

    def close(self) -> None:
        """End the process (it also ends by itself when this process ends)."""
        with self._state_lock:
            self._closing = True
            conn, proc = self._conn, self._proc
        if conn is not None:
            conn.close()
        if proc is not None:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None else None

    @property
    def alive(self) -> bool:
        return self._up.is_set()

    # --- calls ------------------------------------------------------------------------------------------

    def new_handle(self, target: EngineTarget) -> int:
        handle = next(self._handles)
        self._targets[handle] = target
        return handle

    def forget(self, handle: int) -> None:
        self._targets.pop(handle, None)

    def call(self, command: p.Command, timeout: float = CALL_TIMEOUT_S) -> Any:
        """Send `command` and return its answer, raising what the engine raised."""
        request = next(self._requests)
        pending = self._pending[request] = _PendingCall()
        try:
            self._send(p.Call(request, command))
            if not pending.done.wait(timeout):
                raise OutputError(
                    f"the timing engine did not answer {type(command).__name__} within {timeout:g} s",
                    "the machine may be overloaded; stop the metronome and start it again",
                )
        finally:
            self._pending.pop(request, None)
        if pending.error is not None:
            raise pending.error
        return pending.value

    def post(self, command: p.Command) -> None:
        """Send `command` to be applied in order; lost silently while the engine restarts (the restart
        rebuilds from the client's own copy of the settings)."""
        with contextlib.suppress(EngineLost):
            self._send(p.Post(command))

    def _send(self, message: p.Call | p.Post) -> None:
        conn = self._conn
        if conn is None or not self._up.is_set():
            raise EngineLost("it is restarting")
        try:
            with self._send_lock:
                conn.send(message)
        except (OSError, ValueError) as exc:
            raise EngineLost(str(exc)) from None

    # --- the reader thread -----------------------------------------------------------------------------

    def _read(self, conn: Connection, proc: subprocess.Popen[bytes]) -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break
            if isinstance(message, p.Reply | p.Failure):
                pending = self._pending.get(message.request)
                if pending is not None:
                    if isinstance(message, p.Failure):
                        pending.error = message.error
                    else:
                        pending.value = message.value
                    pending.done.set()
            elif isinstance(message, p.Engine):
                target = self._targets.get(message.handle)
                if target is not None:
                    target.engine_event(message.event)
        self._up.clear()
        if self._closing:
            return
        try:
            returncode = proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            returncode = proc.wait()
        self._lost(_why_ended(returncode))

    def _lost(self, why: str) -> None:
        """The process died: fail waiting calls, tell every target, start a new one and rebuild them."""
        log.warning("the timing engine stopped (%s); restarting it", why)
        for pending in list(self._pending.values()):
            pending.error = EngineLost(why)
            pending.done.set()
        targets = list(self._targets.values())
        for target in targets:
            target.engine_lost(why)
        for attempt in range(RESTART_TRIES):
            try:
                self.start()
                break
            except OutputError:
                log.exception("restarting the timing engine failed (try %d)", attempt + 1)
                time.sleep(0.5 * (attempt + 1))
        else:
            return
        self.restarts += 1
        for target in list(self._targets.values()):
            target.engine_back()

    @staticmethod
    def _drain_stderr(proc: subprocess.Popen[bytes]) -> None:
        """The engine's own messages (and libjack's) go to the log, never onto the app's screen."""
        assert proc.stderr is not None
        for line in proc.stderr:
            log.warning("engine %d: %s", proc.pid, line.decode(errors="replace").rstrip())
