"""The app's one metronome: the therapist's settings, the engine built from them, and what to show.

A thin layer over `audio.engine_client.RemoteMetronome` and `RemoteCuePlayer` (no Textual here): the
engine and its cue player run in the timing engine's own process, so nothing the app draws can delay a
click; if that process dies it is restarted and the metronome plays on (the panel says so). It keeps
the settings while the metronome is stopped or between sessions, loads a plan's tempo preset in one call
(its musical cue too: a groove or the client's preferred song instead of a bare click), and never lets a
missing device stop the beat: when no chosen output can open, the engine runs with no output and the beat
light still follows its scheduler, while `state().problems` says what is unavailable and why.

Only `start()` may block (opening a sound card or a MIDI port can take a moment): the app calls it from
a worker. Every other method only posts a change to the engine, which applies it at the next beat or bar.

Only one live session at a time may play (two metronomes on the client's ears would be worse than none):
before opening any output this layer takes the data folder's `OutputLock`, and keeps it until `close()`
(session end, app exit). When another session holds it, `start()` raises `OutputsInUse` naming the holder
and opens nothing; taking data does not depend on the outputs, so the quick taps keep working.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audio.audio_output import DEFAULT_LATENCY, Latency
from audio.cue_state import CueState
from audio.cues import CLICK, Cue, GrooveCue, SongCue, cue_from_preset, settings_for_cue
from audio.engine_client import RemoteCuePlayer, RemoteMetronome
from audio.engine_config import AudioConfig, MidiConfig
from audio.engine_events import EngineEvent, OutputProblem, Xruns
from audio.engine_process import ENGINE, EngineProcess
from audio.errors import OutputError
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
    """Settings + engine + listeners; safe to call from the UI thread (only `start` may block)."""

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
        self.cue: Cue = CLICK
        self.music_on = True
        self.loop_start: int | None = None
        """Bar A of a loop being marked: the next `mark_loop` sets bar B."""
        self._listeners: list[Callable[[EngineEvent], None]] = []
        self._problems: dict[str, str] = {}
        self._xruns = 0
        self._lock = threading.Lock()
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

    # -- listeners ---------------------------------------------------------------------------------
    def add_listener(self, listener: Callable[[EngineEvent], None]) -> Callable[[], None]:
        """Receive BeatEvents (at their sounding time) and OutputProblems from the engine's dispatcher."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def _relay(self, event: EngineEvent) -> None:
        if isinstance(event, Xruns):
            self._xruns = event.count
        elif isinstance(event, OutputProblem):
            if event.recovered:
                self._problems.pop(event.output, None)
            else:
                self._problems[event.output] = event.message
        for listener in list(self._listeners):
            listener(event)

    # -- transport ---------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        engine = self._engine
        return engine is not None and engine.running

    @property
    def engine(self) -> RemoteMetronome | None:
        """The engine playing now (None before the first start); a new one after a device change, so
        read it each time: listening follows its beat schedule."""
        return self._engine

    def start(self) -> MetronomeState:
        """Start playing (opening the outputs first); with no usable output, start the beat light only.

        Raises `OutputsInUse` (nothing opened) when another session owns the outputs, and
        `OutputLockError` when the data folder's lock file cannot be opened.
        """
        with self._lock:
            self._claim_outputs()
            if self._engine is None:
                self._engine = self._build(self.output)
            self._engine.open()
            if self._player is None and self.cue is not CLICK:
                self._player = RemoteCuePlayer(self._engine, self._playing_cue())
            try:
                self._engine.start()
            except OutputError as problem:
                self._remember(problem)
                self._close_engine()
                self._engine = self._build("none")
                self._engine.start()
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

    def _build(self, output: str) -> RemoteMetronome:
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
        self._xruns = 0
        return engine

    def _remember(self, problem: OutputError) -> None:
        engine = self._engine
        if engine is not None:
            for name, state in engine.status().outputs.items():
                if not state.available:
                    self._problems[name] = state.message or str(problem)

    def stop(self) -> None:
        engine = self._engine
        if engine is not None:
            engine.stop()

    def close(self) -> None:
        """Close the outputs and give them up to other sessions (session end, app exit)."""
        with self._lock:
            self._close_engine()
            lock, self._outputs_lock = self._outputs_lock, None
            if lock is not None:
                lock.release()

    def _close_engine(self) -> None:
        player, self._player = self._player, None
        engine, self._engine = self._engine, None
        if player is not None:
            player.close()
        if engine is not None:
            engine.close()

    def reconnect(self) -> MetronomeState:
        """Try the chosen outputs again (a device was plugged back in); keeps playing if it was."""
        was_running = self.running
        with self._lock:
            self._close_engine()  # the outputs stay this session's: another must not take them meanwhile
        self._problems.clear()
        return self.start() if was_running else self.state()

    def set_output(self, output: str, latency: Latency | None = None) -> None:
        """Choose audio/midi/both/none and the audio buffer; takes effect at the next start (a running
        metronome stops)."""
        self._check_output(output)
        latency = self.audio_latency if latency is None else latency
        if output != self.output or latency != self.audio_latency:
            self.close()
            self.output, self.audio_latency = output, latency
            self._problems.clear()

    # -- settings ----------------------------------------------------------------------------------
    def set_bpm(self, bpm: Number) -> TempoSettings:
        """A new tempo from the next beat (a running ramp ends); raises TempoError naming the range."""
        check_bpm(bpm)
        self.settings = self.settings.with_changes(bpm=Fraction(str(bpm)), ramp=None)
        engine = self._engine
        if engine is not None and engine.running:
            engine.set_tempo(self.settings.bpm)
        return self.settings

    def nudge(self, delta: Number) -> TempoSettings:
        """Up or down by `delta` bpm from the tempo asked for last, kept within the engine's range and the
        plan's bpm_min/bpm_max.

        From the target, not the tempo sounding: a change only sounds from the next beat, so five quick
        presses must make five steps, not one. During a ramp the target is where the ramp has got to
        (the nudge ends the ramp there)."""
        low = self.settings.bpm_min if self.settings.bpm_min is not None else MIN_BPM
        high = self.settings.bpm_max if self.settings.bpm_max is not None else MAX_BPM
        base = self.current_bpm() if self.settings.ramp is not None else self.settings.bpm
        target = min(max(base + Fraction(str(delta)), Fraction(low)), Fraction(high))
        return self.set_bpm(target)

    def current_bpm(self) -> Fraction:
        """The tempo playing now (it moves during a ramp), else the set tempo."""
        engine = self._engine
        return engine.status().bpm if engine is not None and engine.running else self.settings.bpm

    def change(self, settings: TempoSettings) -> TempoSettings:
        """Meter, accents, subdivision, swing, count-in or ramp: from the next bar line when running."""
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
        self.change(settings)
        note = self.choose_cue(selection.cue)
        return PresetLoaded(self.settings, selection.cue, (*selection.messages, *([note] if note else [])))

    def choose_cue(self, cue: Cue) -> str | None:
        """Play `cue` with the metronome counting its meter (a waltz song makes it count 3/4); returns why
        the meter was kept when the engine cannot count the cue's."""
        settings, note = settings_for_cue(self.settings, cue)
        if settings != self.settings:
            self.change(settings)
        self.set_cue(cue)
        return note

    def set_cue(self, cue: Cue) -> None:
        """Play `cue` (from the next bar line when running; otherwise at the next start)."""
        self.cue, self.music_on, self.loop_start = cue, True, None
        self._apply_cue()

    def toggle_music(self) -> bool:
        """The plan's music off (click alone) or back on; returns whether the music now plays."""
        self.music_on = not self.music_on
        self._apply_cue()
        return self.music_on

    def _apply_cue(self) -> None:
        engine = self._engine
        if engine is None or not engine.running:
            if self._player is not None:
                self._player.play(self._playing_cue())
            return
        if self._player is None and self.cue is not CLICK:
            self._player = RemoteCuePlayer(engine, CLICK)
        if self._player is not None:
            self._player.play(self._playing_cue())

    # -- shaping the cue mid-session (issue 7): each takes effect at the next beat or bar line -------
    def fade_click(self) -> float:
        """Fade the click out over two bars (to test carry-over: does the client keep the beat?), or back
        in; returns the gain it is heading for."""
        return self._running_player("fade the click").fade_click()

    def fade_music(self) -> float:
        """Fade the groove or song out over two bars, or back in; returns the gain it is heading for."""
        if self.cue is CLICK or not self.music_on:
            raise CueNotChanged("no groove or song is playing: choose one (K) or bring the music back (k)")
        return self._running_player("fade the music").fade_music()

    def change_intensity(self, step: int) -> int:
        """A groove softer (-1) or fuller (+1) from its next bar line, within 1-3; returns the intensity."""
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
        cue = self._song("find a bar")
        playing = self._player.state() if self._player is not None and self.running else None
        if playing is not None and playing.bar is not None and self.music_on:
            return playing.bar
        return cue.start_bar

    def mark_loop(self) -> Loop | None:
        """One key for an A-B loop: the first mark is bar A (the bar playing), the second bar B and the
        song loops A-B from then on; a mark while looping ends the loop. Returns the loop now set."""
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
        cue = replace(self._song("loop"), loop=loop)
        self.cue, self.loop_start = cue, None
        if self._player is not None and self.music_on:
            self._player.set_loop(loop)

    def song_bars(self) -> int:
        """How many bars the song has (CueNotChanged when the cue is not a song)."""
        return self._song("go to a bar").song.bars

    def seek(self, bar: int) -> int:
        """Go to the song's `bar` at the next bar line (stopped or with the music off: start there)."""
        cue = self._song("go to a bar")
        moved = replace(cue, start_bar=bar)  # ValueError naming the song's bars
        player = self._player
        if player is not None and self.running and self.music_on:
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

    def _running_player(self, what: str) -> RemoteCuePlayer:
        """The cue player of the running metronome (attached now if the cue was the bare click)."""
        engine = self._engine
        if engine is None or not engine.running:
            raise CueNotChanged(f"start the metronome (space) to {what}")
        if self._player is None:
            self._player = RemoteCuePlayer(engine, self._playing_cue())
        return self._player

    def state(self) -> MetronomeState:
        player = self._player
        return MetronomeState(
            self.running,
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
