"""The app's and the CLI's side of the timing engine: a process of its own, and metronomes that live in it.

`RemoteMetronome` and `RemoteCuePlayer` have the API of `audio.engine.Metronome` and
`audio.cue_player.CuePlayer` (what the app and the CLI use of it), and run those objects in the engine
process (`audio.engine_host`). Calls that answer wait for the answer over a local socket (about 0.1 ms);
tempo changes, fades and mutes are posted and applied at the next beat or bar, as in one process.
Listeners get the engine's events (beats at their time, output problems, xrun counts) from a dispatcher
thread here, so a slow listener can delay nothing but itself.

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from fractions import Fraction
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, ClassVar, Protocol

from audio import engine_protocol as p
from audio.cue_player import FADE_BARS, CueState
from audio.cues import CLICK, Cue, GrooveCue, SongCue
from audio.engine_config import (
    AUDIO,
    MIDI,
    AudioConfig,
    Boundary,
    EngineStatus,
    MidiConfig,
    OutputState,
    Timings,
)
from audio.engine_events import Dispatcher, EngineEvent, OutputProblem
from audio.errors import OutputError
from audio.song import Loop
from audio.tempo import Number, TempoMap, TempoSettings, check_bpm, exact

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


class _Pending:
    """One call waiting for its answer."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class _Target(Protocol):
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
        self._pending: dict[int, _Pending] = {}
        self._requests = itertools.count(1)
        self._handles = itertools.count(1)
        self._targets: dict[int, _Target] = {}
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

    def new_handle(self, target: _Target) -> int:
        handle = next(self._handles)
        self._targets[handle] = target
        return handle

    def forget(self, handle: int) -> None:
        self._targets.pop(handle, None)

    def call(self, command: p.Command, timeout: float = CALL_TIMEOUT_S) -> Any:
        """Send `command` and return its answer, raising what the engine raised."""
        request = next(self._requests)
        pending = self._pending[request] = _Pending()
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


@dataclass
class _Desired:
    """What a metronome should be, kept here so a restarted engine can rebuild it."""

    settings: TempoSettings
    opened: bool = False
    origin: float | None = None
    click_gain: float = 1.0
    muted: dict[str, bool] = field(default_factory=dict)


class RemoteMetronome(_Target):
    """An `audio.engine.Metronome` in the engine process (see the module docstring)."""

    def __init__(
        self,
        settings: TempoSettings,
        *,
        audio: AudioConfig | None = None,
        midi: MidiConfig | None = None,
        lookahead_s: float = 0.12,
        lead_s: float = 0.15,
        process: EngineProcess | None = None,
    ) -> None:
        self.audio_config = audio
        self.midi_config = midi
        self.lookahead_s = lookahead_s
        self.lead_s = lead_s
        self.outputs = tuple(name for name, config in ((AUDIO, audio), (MIDI, midi)) if config is not None)
        self._desired = _Desired(settings)
        self._players: dict[int, RemoteCuePlayer] = {}
        self._dispatcher = Dispatcher()
        self._dispatcher.start()
        self._closed = False
        self.process = process or EngineProcess.shared()
        self.handle = self.process.new_handle(self)
        self._build()

    def _build(self) -> None:
        config = (self.audio_config, self.midi_config, self.lookahead_s, self.lead_s)
        self.process.call(p.Build(self.handle, self.settings, *config))

    def _call(self, command: p.Command) -> Any:
        return self.process.call(command)

    # --- like Metronome -------------------------------------------------------------------------------

    @property
    def settings(self) -> TempoSettings:
        return self._desired.settings

    def open(self) -> list[OutputProblem]:
        self._desired.opened = True
        problems: list[OutputProblem] = self._call(p.Open(self.handle))
        return problems

    def start(self, at: float | None = None) -> float:
        if self._desired.origin is not None:
            return self._desired.origin
        origin: float = self._call(p.Start(self.handle, at))
        self._desired.origin = origin
        return origin

    def stop(self) -> None:
        if self._desired.origin is None:
            return
        self._desired.origin = None
        with contextlib.suppress(EngineLost):  # a restarted engine is rebuilt stopped
            self._call(p.Stop(self.handle))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._desired.origin = None
        with contextlib.suppress(OutputError):  # gone with the engine
            self._call(p.Close(self.handle))
        self.process.forget(self.handle)
        self._dispatcher.stop()

    def reconnect(self) -> list[OutputProblem]:
        problems: list[OutputProblem] = self._call(p.Reconnect(self.handle))
        return problems

    @property
    def running(self) -> bool:
        return self._desired.origin is not None

    @property
    def origin(self) -> float | None:
        return self._desired.origin

    def set_tempo(self, bpm: Number, at: Boundary = Boundary.BEAT) -> None:
        check_bpm(bpm)
        self._desired.settings = self.settings.with_changes(bpm=exact(bpm, "bpm"), ramp=None)
        self.process.post(p.SetTempo(self.handle, exact(bpm, "bpm"), at))

    def set_settings(self, settings: TempoSettings, at: Boundary = Boundary.BAR) -> None:
        self._desired.settings = settings
        self.process.post(p.SetSettings(self.handle, settings, at))

    def set_click_gain(self, gain: float, over_beats: Number = 0) -> None:
        if not 0.0 <= gain <= 1.0:
            raise ValueError(f"click gain {gain:g} is out of range: use 0 (silent) to 1 (full)")
        length = exact(over_beats, "fade length")
        if length < 0:
            raise ValueError(f"a fade cannot last {float(length):g} beats")
        self._desired.click_gain = gain
        self.process.post(p.SetClickGain(self.handle, gain, length))

    @property
    def click_gain(self) -> float:
        return self._desired.click_gain

    def set_muted(self, output: str, muted: bool) -> None:
        if output not in self.outputs:
            raise ValueError(f"no {output!r} output: this metronome has {sorted(self.outputs)}")
        self._desired.muted[output] = muted
        self.process.post(p.SetMuted(self.handle, output, muted))

    @property
    def tempo_map(self) -> TempoMap | None:
        if not self.running:
            return None
        tempo: TempoMap | None = self._query(p.GetTempoMap(self.handle))
        return tempo

    def time_of(self, beat: Number) -> float | None:
        if not self.running:
            return None
        return self._query(p.TimeOf(self.handle, exact(beat, "beat")))

    def beat_at(self, perf_time: float) -> Fraction | None:
        if not self.running:
            return None
        return self._query(p.BeatAt(self.handle, perf_time))

    def _query(self, command: p.Command) -> Any:
        """A question about the current run: None while the engine restarts (as if stopped)."""
        try:
            return self._call(command)
        except EngineLost:
            return None

    def status(self) -> EngineStatus:
        try:
            status: EngineStatus = self._call(p.GetStatus(self.handle))
            return status
        except EngineLost as lost:
            outputs = {name: OutputState(name, False, False, str(lost)) for name in self.outputs}
            return EngineStatus(self.running, self.settings.bpm, outputs, 0, 0, self._dispatcher.dropped)

    def timings(self) -> Timings:
        timings: Timings = self._call(p.GetTimings(self.handle))
        return timings

    def add_listener(self, listener: Callable[[EngineEvent], None]) -> Callable[[], None]:
        return self._dispatcher.add(listener)

    # --- the engine process's side ---------------------------------------------------------------------

    def engine_event(self, event: EngineEvent) -> None:
        self._dispatcher.publish(event)

    def engine_lost(self, why: str) -> None:
        self._dispatcher.publish(
            OutputProblem(
                ENGINE,
                f"the timing engine stopped ({why}); restarting it, the session carries on",
                time=time.perf_counter(),
            )
        )

    def engine_back(self) -> None:
        """Rebuild in the new engine: open, play on at the tempo reached (no count-in), cues attached."""
        desired = self._desired
        was_running = desired.origin is not None
        try:
            self._build()
            if desired.click_gain != 1.0:
                self.process.post(p.SetClickGain(self.handle, desired.click_gain, Fraction(0)))
            for output, muted in desired.muted.items():
                self.process.post(p.SetMuted(self.handle, output, muted))
            for problem in self.open() if desired.opened else []:
                self._dispatcher.publish(problem)
            for player in self._players.values():
                player.engine_back()
            if was_running:
                desired.origin = None
                self.set_settings(desired.settings.with_changes(count_in_bars=0))
                self.start()
        except OutputError as exc:
            self._dispatcher.publish(OutputProblem(ENGINE, str(exc), time=time.perf_counter()))
            return
        self._dispatcher.publish(
            OutputProblem(
                ENGINE,
                "the timing engine was restarted" + (" and plays on" if was_running else ""),
                recovered=True,
                time=time.perf_counter(),
            )
        )

    def _attach(self, player: RemoteCuePlayer) -> int:
        key = next(_player_ids)
        self._players[key] = player
        return key

    def _detach(self, key: int) -> None:
        self._players.pop(key, None)


_player_ids: Iterator[int] = itertools.count(1)


class RemoteCuePlayer:
    """An `audio.cue_player.CuePlayer` on a `RemoteMetronome`, in the engine process."""

    def __init__(
        self,
        metronome: RemoteMetronome,
        cue: Cue = CLICK,
        *,
        midi: bool = True,
        audio: bool = True,
        fade_bars: int = FADE_BARS,
    ) -> None:
        self._metronome = metronome
        self._cue = cue
        self._midi, self._audio, self.fade_bars = midi, audio, fade_bars
        self._click_on: bool | None = None
        self._music_out = False
        self.key = metronome._attach(self)
        self._attach_remote()

    def _attach_remote(self) -> None:
        metronome = self._metronome
        metronome.process.call(
            p.AttachCue(metronome.handle, self.key, self._cue, self._midi, self._audio, self.fade_bars)
        )

    def _call(self, command_type: type[p.CueCommand], *args: Any) -> Any:
        metronome = self._metronome
        return metronome.process.call(command_type(metronome.handle, self.key, *args))

    @property
    def cue(self) -> Cue:
        return self._cue

    def play(self, cue: Cue) -> None:
        self._call(p.PlayCue, cue)
        self._cue = cue

    def seek(self, bar: int) -> None:
        self._call(p.SeekCue, bar)
        if isinstance(self._cue, SongCue) and not self._metronome.running:
            self._cue = replace(self._cue, start_bar=bar)

    def set_loop(self, loop: Loop | None) -> None:
        self._call(p.LoopCue, loop)
        if isinstance(self._cue, SongCue):
            self._cue = replace(self._cue, loop=loop)

    def set_intensity(self, intensity: int) -> None:
        self._call(p.SetIntensity, intensity)
        if isinstance(self._cue, GrooveCue):
            self._cue = replace(self._cue, intensity=intensity)

    def fade_music(self, out: bool | None = None) -> float:
        target: float = self._call(p.FadeMusic, out)
        self._music_out = target == 0.0
        return target

    def fade_click(self, out: bool | None = None) -> float:
        target: float = self._call(p.FadeClick, out)
        self._metronome._desired.click_gain = target
        return target

    def set_click(self, on: bool) -> None:
        self._call(p.LayerClick, on)
        self._click_on = on
        for output in self._metronome.outputs:
            self._metronome._desired.muted[output] = not on

    def state(self) -> CueState:
        try:
            state: CueState = self._call(p.GetCueState)
            return state
        except EngineLost as lost:
            return CueState(
                cue=self._cue,
                playing=False,
                finished=False,
                bar=None,
                music_gain=0.0 if self._music_out else 1.0,
                click_gain=self._metronome.click_gain,
                click_on=self._click_on is not False,
                outputs=(),
                problem=str(lost),
            )

    def close(self) -> None:
        with contextlib.suppress(OutputError):
            self._call(p.DetachCue)
        self._metronome._detach(self.key)

    def engine_back(self) -> None:
        """Attach again in a restarted engine, playing the cue it had, faded and layered as it was."""
        self._attach_remote()
        if self._music_out:
            self._call(p.FadeMusic, True)
        if self._click_on is not None:
            self._call(p.LayerClick, self._click_on)
