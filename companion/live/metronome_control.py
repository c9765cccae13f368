"""The app's one metronome: the therapist's settings, the engine built from them, and what to show.

A thin layer over `audio.engine_client.RemoteMetronome` and `RemoteCuePlayer` (no Textual here): the
engine and its cue player run in the timing engine's own process, so nothing the app draws can delay a
click; if that process dies it is restarted and the metronome plays on (the panel says so). It keeps
the settings while the metronome is stopped or between sessions, loads a plan's tempo preset in one call
(its musical cue too: a groove or the client's preferred song instead of a bare click), and never lets a
missing device stop the beat: when no chosen output can open, the engine runs with no output and the beat
light still follows its scheduler, while `state().problems` says what is unavailable and why.

Threads: one lock guards the control's state and one control thread of its own does the slow steps
(opening, starting, stopping and closing outputs, attaching a cue player), so the UI never waits on a
device and no two threads ever build two cue players (`MetronomeControl` spells the contract out).
Only `start()` and `reconnect()` wait for the outputs: the app calls them from a worker.

Only one live session at a time may play (two metronomes on the client's ears would be worse than none):
before opening any output this layer takes the data folder's `OutputLock`, and keeps it until `close()`
(session end, app exit). When another session holds it, `start()` raises `OutputsInUse` naming the holder
and opens nothing; taking data does not depend on the outputs, so the quick taps keep working.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from audio.audio_output import DEFAULT_LATENCY, Latency
from audio.cue_player import CueState
from audio.cues import CLICK, Cue, GrooveCue, SongCue, cue_from_preset, settings_for_cue
from audio.engine import AudioConfig, MidiConfig
from audio.engine_client import ENGINE, EngineProcess, RemoteCuePlayer, RemoteMetronome
from audio.errors import OutputError
from audio.events import EngineEvent, OutputProblem, Xruns
from audio.grooves import INTENSITIES
from audio.song import Loop
from audio.tempo import MAX_BPM, MIN_BPM, LinearRamp, Number, StepRamp, TempoSettings, check_bpm
from companion.output_lock import Holder, OutputLock
from companion.paths import data_dir as resolve_data_dir

if TYPE_CHECKING:
    from companion.live.config import AppConfig

OUTPUTS = ("audio", "midi", "both", "none")
DEFAULT_SETTINGS = TempoSettings(bpm=Fraction(80))
PRESET_ONLY_KEYS = ("cue",)
"""Keys of a plan's tempo preset the click engine does not take (the cue is a groove or song choice)."""

T = TypeVar("T")


class OutputsInUse(Exception):
    """Another live session owns the audio/MIDI outputs; the message says who and what to do."""

    def __init__(self, holder: Holder) -> None:
        super().__init__(holder.describe())
        self.holder = holder


@dataclass(frozen=True)
class PresetLoaded:
    """A plan's preset as loaded: the settings, the musical cue and what to tell the therapist about it."""

    settings: TempoSettings
    cue: Cue
    messages: tuple[str, ...] = ()


@dataclass(frozen=True)
class MetronomeState:
    """What the metronome panel shows."""

    running: bool
    settings: TempoSettings
    output: str
    problems: Mapping[str, str] = field(default_factory=dict)  # output -> why it is unavailable
    cue: Cue = CLICK
    music_on: bool = True
    """The plan's music plays (False: the therapist switched to the click alone)."""
    playing: CueState | None = None
    """What the cue player reports while the metronome has one: bar, fades, a cue that stopped."""
    loop_start: int | None = None
    """Bar A of a loop being marked (the next mark sets bar B)."""
    xruns: int = 0
    """Audio cycles the stream lost since it opened (clicks stay on their samples; a raised count says
    to choose the larger audio buffer)."""
    engine_notes: tuple[str, ...] = ()
    """How the timing engine runs when the OS refused it realtime priority or locked memory, with the fix."""

    @property
    def cue_line(self) -> str:
        if self.cue is CLICK:
            line = "cue: click"
        else:
            line = f"cue: {self.cue.summary}" + ("" if self.music_on else " (off: click only)")
        problem = [self.playing.problem] if self.playing is not None and self.playing.problem else []
        return " · ".join([line, *self.cue_marks, *problem])

    @property
    def cue_faded(self) -> bool:
        """Running, but the client hears no beat: the click faded out and the music off or faded too."""
        playing = self.playing
        if not self.running or playing is None or playing.click_gain > 0:
            return False
        return self.cue is CLICK or not self.music_on or playing.music_gain == 0

    @property
    def cue_marks(self) -> list[str]:
        """Where the cue is and what is faded, as short marks ("bar 5", "click faded")."""
        playing, marks = self.playing, []
        if playing is not None and playing.bar is not None and self.running and self.music_on:
            marks.append("ended" if playing.finished else f"bar {playing.bar}")
        if self.loop_start is not None:
            marks.append(f"loop A bar {self.loop_start}")
        if playing is not None:
            if playing.music_gain < 1 and self.cue is not CLICK:
                marks.append("music faded")
            if playing.click_gain < 1:
                marks.append("click faded")
        return marks

    @property
    def cue_short(self) -> str:
        """One short line for the 80-column strip: where the cue is, what is faded, then its name."""
        name = "click" if self.cue is CLICK else self.cue.name
        if self.cue is not CLICK and not self.music_on:
            name += " (off)"
        cue = self.cue
        looped = (
            [f"loop {cue.loop.first_bar}-{cue.loop.last_bar}"]
            if isinstance(cue, SongCue) and cue.loop
            else []
        )
        return "♪ " + " · ".join([*self.cue_marks, *looped, name])  # the marks first: a narrow strip cuts

    @property
    def bpm(self) -> float:
        return float(self.settings.bpm)

    @property
    def engine_problem(self) -> str | None:
        """Why the timing engine itself is not playing (its process died and is restarting), or None."""
        return self.problems.get(ENGINE)

    @property
    def silent(self) -> bool:
        """Running with no output: only the beat light shows the beat."""
        wanted = {"audio": ["audio"], "midi": ["midi"], "both": ["audio", "midi"], "none": []}[self.output]
        return all(name in self.problems for name in wanted)


class CueNotChanged(ValueError):
    """A cue control that cannot apply now; the message says why and what to press instead."""


def describe(settings: TempoSettings) -> str:
    """One line for the panel, e.g. "4/4 · accents A B B B · 2 per beat · count-in 1 bar"."""
    codes = {"accent": "A", "beat": "B", "sub": "S", "silent": "-"}
    parts = [str(settings.meter), "accents " + " ".join(codes[level.value] for level in settings.levels)]
    if settings.subdivision != 1:
        parts.append("triplets" if settings.subdivision == 3 else f"{settings.subdivision} per beat")
    if settings.swing:
        parts.append(f"swing {float(settings.swing):g}")
    if settings.count_in_bars:
        parts.append(f"count-in {settings.count_in_bars} bar" + ("s" if settings.count_in_bars > 1 else ""))
    ramp = settings.ramp
    if isinstance(ramp, LinearRamp):
        parts.append(f"ramp to {float(ramp.to_bpm):g} bpm over {ramp.beats} beats")
    elif isinstance(ramp, StepRamp):
        limit = f" to {float(ramp.max_bpm):g}" if ramp.max_bpm is not None else ""
        parts.append(f"ramp {float(ramp.percent):+g}% every {ramp.every_bars} bars{limit}")
    if settings.bpm_min is not None or settings.bpm_max is not None:
        parts.append(
            f"plan range {float(settings.bpm_min or MIN_BPM):g}-{float(settings.bpm_max or MAX_BPM):g}"
        )
    return " · ".join(parts)


class MetronomeControl:
    """Settings + engine + listeners, under one thread contract (issue 15):

    - One lock, `_lock`, guards every field (settings, cue, the engine and its cue player, problems, xruns,
      listeners, the outputs lock). Every method that changes them holds it, and so does every reader that
      needs them consistent (`state`). It is held only for in-memory work and for engine commands the
      engine answers at once (posted tempo changes, cue switches, fades, status queries), never while an
      output opens, starts, stops or closes, nor while a cue player is attached: those wait on devices and
      joins, in the engine process too (`audio.engine_protocol.BLOCKING`).
    - Those slow steps run only on the control's own thread (`companion-metronome`), one at a time in the
      order asked. Only that thread builds or drops the engine and its cue player, so there is never a
      second player, nor one left on an engine that was closed.
    - Nothing blocks the UI thread: `start` and `reconnect` wait for their step (the app calls them from a
      worker, and reports what they return or raise); `stop`, `close` and `set_output` only ask for theirs
      and return a Future (the app exit, a test or the CLI wait on it when the outputs must be given up
      first). Every other method updates what is wanted and returns; a cue player the change needs is
      attached on the control thread and brought up to date with what was asked meanwhile.
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
        self.loop_start: int | None = None
        """Bar A of a loop being marked: the next `mark_loop` sets bar B."""
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

    @classmethod
    def from_config(cls, config: AppConfig) -> MetronomeControl:
        return cls(
            config.metronome_outputs,
            audio_device=config.audio_device,
            midi_port=config.midi_port,
            midi_virtual=config.midi_virtual,
            audio_latency=config.audio_latency,
            shared_data_dir=resolve_data_dir(config.data_dir),
        )

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

    def start(self) -> MetronomeState:
        """Start playing (opening the outputs first); with no usable output, start the beat light only.
        Waits for the outputs to open: call it from a worker.

        Raises `OutputsInUse` (nothing opened) when another session owns the outputs, and
        `OutputLockError` when the data folder's lock file cannot be opened.
        """
        return self._on_control_thread(self._start_now).result()

    def _start_now(self) -> MetronomeState:
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
        return self.state()

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

    def _attach_if_running(self) -> None:
        if self._running:
            self._attach_player()

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

    def reconnect(self) -> MetronomeState:
        """Try the chosen outputs again (a device was plugged back in); keeps playing if it was. Waits for
        the outputs to open: call it from a worker."""
        return self._on_control_thread(self._reconnect_now).result()

    def _reconnect_now(self) -> MetronomeState:
        was_running = self._running
        self._close_engine()  # the outputs stay this session's: another must not take them meanwhile
        self._forget_problems()
        return self._start_now() if was_running else self.state()

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

    # -- settings ----------------------------------------------------------------------------------
    def set_bpm(self, bpm: Number) -> TempoSettings:
        """A new tempo from the next beat (a running ramp ends); raises TempoError naming the range."""
        check_bpm(bpm)
        with self._lock:
            self.settings = self.settings.with_changes(bpm=Fraction(str(bpm)), ramp=None)
            engine = self._engine
            if engine is not None and self._running:
                engine.set_tempo(self.settings.bpm)
            return self.settings

    def nudge(self, delta: Number) -> TempoSettings:
        """Up or down by `delta` bpm from the tempo asked for last, kept within the engine's range and the
        plan's bpm_min/bpm_max.

        From the target, not the tempo sounding: a change only sounds from the next beat, so five quick
        presses must make five steps, not one. During a ramp the target is where the ramp has got to
        (the nudge ends the ramp there)."""
        with self._lock:
            low = self.settings.bpm_min if self.settings.bpm_min is not None else MIN_BPM
            high = self.settings.bpm_max if self.settings.bpm_max is not None else MAX_BPM
            base = self.current_bpm() if self.settings.ramp is not None else self.settings.bpm
            target = min(max(base + Fraction(str(delta)), Fraction(low)), Fraction(high))
            return self.set_bpm(target)

    def current_bpm(self) -> Fraction:
        """The tempo playing now (it moves during a ramp), else the set tempo."""
        with self._lock:
            engine = self._engine
            return engine.status().bpm if engine is not None and self._running else self.settings.bpm

    def change(self, settings: TempoSettings) -> TempoSettings:
        """Meter, accents, subdivision, swing, count-in or ramp: from the next bar line when running."""
        with self._lock:
            self.settings = settings
            engine = self._engine
            if engine is not None:
                engine.set_settings(settings)
            return settings

    def load_preset(self, preset: Mapping[str, Any], preferred_songs: Sequence[str] = ()) -> PresetLoaded:
        """A plan's tempo preset (`plan.tempo.as_engine_kwargs()`), as is: one action for the therapist.

        Its cue ("rock", "preferred-song"...) is chosen for this client's songs; a song that cannot play
        falls back to a groove and the messages say why. The metronome counts the cue's meter.
        """
        values = {k: v for k, v in preset.items() if k not in PRESET_ONLY_KEYS}
        settings = TempoSettings.from_mapping(values)
        selection = cue_from_preset(
            str(preset.get("cue", CLICK.name)), meter=str(settings.meter), preferred_songs=preferred_songs
        )
        with self._lock:
            self.change(settings)
            note = self.choose_cue(selection.cue)
            messages = (*selection.messages, *([note] if note else []))
            return PresetLoaded(self.settings, selection.cue, messages)

    def choose_cue(self, cue: Cue) -> str | None:
        """Play `cue` with the metronome counting its meter (a waltz song makes it count 3/4); returns why
        the meter was kept when the engine cannot count the cue's."""
        with self._lock:
            settings, note = settings_for_cue(self.settings, cue)
            if settings != self.settings:
                self.change(settings)
            self.set_cue(cue)
            return note

    def set_cue(self, cue: Cue) -> None:
        """Play `cue` (from the next bar line when running; otherwise at the next start)."""
        with self._lock:
            self.cue, self.music_on, self.loop_start = cue, True, None
            self._apply_cue()

    def toggle_music(self) -> bool:
        """The plan's music off (click alone) or back on; returns whether the music now plays."""
        with self._lock:
            self.music_on = not self.music_on
            self._apply_cue()
            return self.music_on

    def _apply_cue(self) -> None:
        """Under the lock: the player plays the wanted cue; a running metronome without one gets one."""
        player = self._player
        if player is not None:
            player.play(self._playing_cue())
        elif self._running and self.cue is not CLICK:
            self._on_control_thread(self._attach_if_running)

    # -- shaping the cue mid-session (issue 7): each takes effect at the next beat or bar line -------
    def fade_click(self) -> float:
        """Fade the click out over two bars (to test carry-over: does the client keep the beat?), or back
        in; returns the gain it is heading for."""
        with self._lock:
            self._need_running("fade the click")
            self._click_target = target = 0.0 if self._click_target > 0 else 1.0
            self._on_player(lambda player: player.fade_click(out=target == 0.0))
            return target

    def fade_music(self) -> float:
        """Fade the groove or song out over two bars, or back in; returns the gain it is heading for."""
        with self._lock:
            if self.cue is CLICK or not self.music_on:
                raise CueNotChanged(
                    "no groove or song is playing: choose one (K) or bring the music back (k)"
                )
            self._need_running("fade the music")
            self._music_target = target = 0.0 if self._music_target > 0 else 1.0
            self._on_player(lambda player: player.fade_music(out=target == 0.0))
            return target

    def change_intensity(self, step: int) -> int:
        """A groove softer (-1) or fuller (+1) from its next bar line, within 1-3; returns the intensity."""
        with self._lock:
            cue = self.cue
            if not isinstance(cue, GrooveCue):
                raise CueNotChanged(f"only a groove has an intensity, and the cue is {cue.summary}")
            intensity = min(max(cue.intensity + step, INTENSITIES[0]), INTENSITIES[-1])
            self.cue = replace(cue, intensity=intensity)
            if self._player is not None and self.music_on:
                self._player.set_intensity(intensity)
            return intensity

    def current_bar(self) -> int:
        """The song's bar playing now (handed to the outputs), or the bar it will start from."""
        with self._lock:
            cue = self._song("find a bar")
            playing = self._player.state() if self._player is not None and self._running else None
            if playing is not None and playing.bar is not None and self.music_on:
                return playing.bar
            return cue.start_bar

    def mark_loop(self) -> Loop | None:
        """One key for an A-B loop: the first mark is bar A (the bar playing), the second bar B and the
        song loops A-B from then on; a mark while looping ends the loop. Returns the loop now set."""
        with self._lock:
            cue = self._song("loop")
            if cue.loop is not None:
                self.set_loop(None)
                return None
            bar = self.current_bar()
            if self.loop_start is None:
                self.loop_start = bar
                return None
            loop = Loop(min(self.loop_start, bar), max(self.loop_start, bar))
            self.set_loop(loop)
            return loop

    def set_loop(self, loop: Loop | None) -> None:
        """Loop bars A-B of the song (None: play on to its end); a loop ahead or behind jumps into it at the
        next bar line. ValueError naming the song's bars."""
        with self._lock:
            cue = replace(self._song("loop"), loop=loop)
            self.cue, self.loop_start = cue, None
            if self._player is not None and self.music_on:
                self._player.set_loop(loop)

    def song_bars(self) -> int:
        """How many bars the song has (CueNotChanged when the cue is not a song)."""
        return self._song("go to a bar").song.bars

    def seek(self, bar: int) -> int:
        """Go to the song's `bar` at the next bar line (stopped or with the music off: start there)."""
        with self._lock:
            cue = self._song("go to a bar")
            moved = replace(cue, start_bar=bar)  # ValueError naming the song's bars
            player = self._player
            if player is not None and self._running and self.music_on:
                player.seek(bar)
            else:
                self.cue = moved
                if player is not None and self.music_on:
                    player.play(moved)
            return bar

    def _song(self, what: str) -> SongCue:
        cue = self.cue
        if not isinstance(cue, SongCue):
            raise CueNotChanged(f"only a song can {what}, and the cue is {cue.summary}: choose a song (K)")
        return cue

    def _need_running(self, what: str) -> None:
        if not self._running:
            raise CueNotChanged(f"start the metronome (space) to {what}")

    def _on_player(self, change: Callable[[RemoteCuePlayer], object]) -> None:
        """Under the lock: apply `change` to the cue player now, or (the cue was the bare click) attach one
        on the control thread, which applies what was asked meanwhile."""
        player = self._player
        if player is not None:
            change(player)
        else:
            self._on_control_thread(self._attach_if_running)

    def state(self) -> MetronomeState:
        with self._lock:
            player = self._player
            return MetronomeState(
                self._running,
                self.settings,
                self.output,
                dict(self._problems),
                self.cue,
                self.music_on,
                player.state() if player is not None else None,
                self.loop_start,
                self._xruns,
                self._engine_notes(),
            )

    def _engine_notes(self) -> tuple[str, ...]:
        engine = self._engine
        hello = engine.process.hello if engine is not None else None
        return hello.notes if hello is not None else ()
