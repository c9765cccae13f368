"""The metronome's engine and cue player, owned by one control thread (no Textual here).

`MetronomeTransport` builds, opens, starts, stops and closes a `RemoteMetronome` (the engine runs in
the timing engine's own process, so nothing the app draws can delay a click) and attaches its
`RemoteCuePlayer`. It never lets a missing device stop the beat: when no chosen output can open, the
engine runs with no output and the beat light still follows its scheduler, while the problems say what
is unavailable and why. Its class docstring is the thread contract `MetronomeControl` lives by.

Only one live session at a time may play (two metronomes on the client's ears would be worse than none):
before opening any output this layer takes the data folder's `OutputLock`, and keeps it until `close()`
(session end, app exit). When another session holds it, starting raises `OutputsInUse` naming the holder
and opens nothing; taking data does not depend on the outputs, so the quick taps keep working.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

from audio.audio_output import DEFAULT_LATENCY, Latency
from audio.cues import CLICK, Cue
from audio.engine_client import RemoteCuePlayer, RemoteMetronome
from audio.engine_config import AudioConfig, MidiConfig
from audio.engine_events import EngineEvent, OutputProblem, Xruns
from audio.engine_process import EngineProcess
from audio.errors import OutputError
from audio.tempo import TempoSettings
from companion.output_lock import Holder, OutputLock

OUTPUTS = ("audio", "midi", "both", "none")
DEFAULT_SETTINGS = TempoSettings(bpm=Fraction(80))

T = TypeVar("T")


class OutputsInUse(Exception):
    """Another live session owns the audio/MIDI outputs; the message says who and what to do."""

    def __init__(self, holder: Holder) -> None:
        super().__init__(holder.describe())
        self.holder = holder


class MetronomeTransport:
    """The engine and its cue player, under one thread contract (issue 15):

    - One lock, `_lock`, guards every field (settings, cue, the engine and its cue player, problems, xruns,
      listeners, the outputs lock). Every method that changes them holds it, and so does every reader
      that needs them consistent (`MetronomeControl.state`). It is held only for in-memory work and for
      engine commands the engine answers at once (posted tempo changes, cue switches, fades, status
      queries), never while an output opens, starts, stops or closes, nor while a cue player is attached:
      those wait on devices and joins, in the engine process too (`audio.engine_protocol.BLOCKING`).
    - Those slow steps run only on the control's own thread (`companion-metronome`), one at a time in the
      order asked. Only that thread builds or drops the engine and its cue player, so there is never a
      second player, nor one left on an engine that was closed.
    - Nothing blocks the UI thread: `MetronomeControl.start` and `.reconnect` wait for their step (the
      app calls them from a worker, and reports what they return or raise); `stop`, `close` and
      `set_output` only ask for theirs and return a Future (the app exit, a test or the CLI wait on it
      when the outputs must be given up first). Every other method updates what is wanted and returns; a
      cue player the change needs is attached on the control thread and brought up to date with what was
      asked meanwhile.
    - The engine's event thread (`_relay`) records problems and xruns under the lock and calls listeners
      outside it, so closing an engine (which joins that thread) can never wait on it.
    """

    def __init__(
        self,
        output: str = "audio",
        *,
        audio_device: str | None = None,
        midi_port: str | None = None,
        midi_virtual: str = "Companion",
        audio_latency: Latency = DEFAULT_LATENCY,
        settings: TempoSettings = DEFAULT_SETTINGS,
        shared_data_dir: Path | None = None,
    ) -> None:
        """`shared_data_dir`: the data folder other sessions (tabs, terminals) open too; playing then needs
        its `OutputLock`. None means this metronome shares its outputs with nobody (a benchmark, a test)."""
        self._check_output(output)
        self.output = output
        self.audio_device = audio_device
        self.midi_port = midi_port
        self.midi_virtual = midi_virtual
        self.audio_latency = audio_latency
        self.settings = settings
        self._engine: RemoteMetronome | None = None
        self._player: RemoteCuePlayer | None = None
        self._running = False
        """Started and not stopped since, as asked (the engine follows on the control thread)."""
        self.cue: Cue = CLICK
        self.music_on = True
        self._click_target = 1.0
        """The click gain the last fade asked for (the engine's own until a fade is asked)."""
        self._music_target = 1.0
        """The music gain the last fade asked for."""
        self._listeners: list[Callable[[EngineEvent], None]] = []
        self._problems: dict[str, str] = {}
        self._xruns = 0
        self._lock = threading.RLock()
        self._control = ThreadPoolExecutor(max_workers=1, thread_name_prefix="companion-metronome")
        self.shared_data_dir = shared_data_dir
        self._outputs_lock: OutputLock | None = None

    @staticmethod
    def warm_up() -> None:
        """Start the timing engine's process ahead of the first `start` (which would start it anyway and
        report a failure then, so one here is not an error)."""
        with contextlib.suppress(OutputError):
            EngineProcess.shared()

    @staticmethod
    def _check_output(output: str) -> None:
        if output not in OUTPUTS:
            raise ValueError(f"output {output!r} is not one of {', '.join(OUTPUTS)}")

    def _on_control_thread(self, step: Callable[[], T]) -> Future[T]:
        """Run a slow step (outputs, cue player) on the control thread, after those asked before it."""
        return self._control.submit(step)

    # -- listeners ---------------------------------------------------------------------------------
    def add_listener(self, listener: Callable[[EngineEvent], None]) -> Callable[[], None]:
        """Receive BeatEvents (at their sounding time) and OutputProblems from the engine's dispatcher."""
        with self._lock:
            self._listeners.append(listener)

        def remove() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return remove

    def _relay(self, event: EngineEvent) -> None:
        """The engine's event thread: record what the panel shows, then tell the listeners (unlocked)."""
        with self._lock:
            if isinstance(event, Xruns):
                self._xruns = event.count
            elif isinstance(event, OutputProblem):
                if event.recovered:
                    self._problems.pop(event.output, None)
                else:
                    self._problems[event.output] = event.message
            listeners = list(self._listeners)
        for listener in listeners:
            listener(event)

    # -- transport ---------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._running

    @property
    def engine(self) -> RemoteMetronome | None:
        """The engine playing now (None before the first start); a new one after a device change, so
        read it each time: listening follows its beat schedule."""
        return self._engine

    def _start_now(self) -> None:
        """Control thread: build and open the engine, attach the cue's player, start."""
        with self._lock:
            self._claim_outputs()
            engine = self._engine
        if engine is None:
            engine = self._publish_engine(self.output)
        engine.open()
        if self.cue is not CLICK:
            self._attach_player()
        try:
            engine.start()
        except OutputError as problem:
            self._remember(engine, problem)
            self._close_engine()
            self._publish_engine("none").start()
        with self._lock:
            self._running = True

    def _claim_outputs(self) -> None:
        """Take the outputs for this session before anything opens them (kept until `close`).

        Every path that opens an audio or MIDI output calls this first, under `self._lock`.
        """
        if self.shared_data_dir is None or self.output == "none" or self._outputs_lock is not None:
            return
        self._outputs_lock = OutputLock.acquire(self.shared_data_dir)
        if self._outputs_lock is None:
            holder = OutputLock.holder_of(self.shared_data_dir)
            if holder is None:  # released between the two looks: it is free now
                self._outputs_lock = OutputLock.acquire(self.shared_data_dir)
            if self._outputs_lock is None:
                raise OutputsInUse(holder or Holder(pid=None, started=None, origin=None))

    @property
    def owns_outputs(self) -> bool:
        """This session holds the outputs (it played since its last `close`)."""
        return self._outputs_lock is not None

    def _playing_cue(self) -> Cue:
        return self.cue if self.music_on else CLICK

    def _publish_engine(self, output: str) -> RemoteMetronome:
        """Control thread: a new engine for `output` (built unlocked: the engine may be opening another)."""
        audio = (
            AudioConfig(device=self.audio_device, latency=self.audio_latency)
            if output in ("audio", "both")
            else None
        )
        midi = (
            MidiConfig(port=self.midi_port, virtual=None if self.midi_port else self.midi_virtual)
            if output in ("midi", "both")
            else None
        )
        engine = RemoteMetronome(self.settings, audio=audio, midi=midi)
        engine.add_listener(self._relay)
        with self._lock:
            self._engine, self._xruns = engine, 0
        return engine

    def _remember(self, engine: RemoteMetronome, problem: OutputError) -> None:
        outputs = engine.status().outputs
        with self._lock:
            for name, state in outputs.items():
                if not state.available:
                    self._problems[name] = state.message or str(problem)

    def _attach_player(self) -> None:
        """Control thread: the cue player the wanted cue needs, once, brought up to date with every cue
        change and fade asked while it was being attached."""
        engine = self._engine
        if engine is None or self._player is not None:
            return
        running = self._running
        player = RemoteCuePlayer(engine, CLICK if running else self._playing_cue())
        with self._lock:
            self._player = player
            cue = self._playing_cue()
            if running or cue != player.cue:
                player.play(cue)
            if self._click_target != engine.click_gain:
                player.fade_click(out=self._click_target == 0.0)
            if self._music_target == 0.0:
                player.fade_music(out=True)

    def stop(self) -> Future[None]:
        """Stop playing; the engine stops on the control thread (the outputs stay open and this session's)."""
        with self._lock:
            self._running = False
        return self._on_control_thread(self._stop_now)

    def _stop_now(self) -> None:
        engine = self._engine
        if engine is not None:
            engine.stop()

    def close(self) -> Future[None]:
        """Close the outputs and give them up to other sessions (session end, app exit), on the control
        thread: returns at once; wait on the Future where the outputs must be free first."""
        with self._lock:
            self._running = False
        return self._on_control_thread(self._close_now)

    def _close_now(self) -> None:
        self._close_engine()
        with self._lock:
            lock, self._outputs_lock = self._outputs_lock, None
        if lock is not None:
            lock.release()

    def _close_engine(self) -> None:
        """Control thread: drop the engine and its player (unlocked while they join their threads)."""
        with self._lock:
            player, self._player = self._player, None
            engine, self._engine = self._engine, None
            self._running = False
            self._click_target = self._music_target = 1.0
        if player is not None:
            player.close()
        if engine is not None:
            engine.close()

    def _reconnect_now(self) -> None:
        was_running = self._running
        self._close_engine()  # the outputs stay this session's: another must not take them meanwhile
        self._forget_problems()
        if was_running:
            self._start_now()

    def _forget_problems(self) -> None:
        with self._lock:
            self._problems.clear()

    def set_output(self, output: str, latency: Latency | None = None) -> Future[None] | None:
        """Choose audio/midi/both/none and the audio buffer; takes effect at the next start (a running
        metronome stops, and closes on the control thread: the Future says when; None if nothing changed)."""
        self._check_output(output)
        with self._lock:
            latency = self.audio_latency if latency is None else latency
            if output == self.output and latency == self.audio_latency:
                return None
            self.output, self.audio_latency = output, latency
            self._running = False

        def close_and_forget() -> None:
            self._close_now()
            self._forget_problems()

        return self._on_control_thread(close_and_forget)
