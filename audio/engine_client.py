"""The app's and the CLI's side of the timing engine: metronomes and cue players that live in its process.

`RemoteMetronome` and `RemoteCuePlayer` have the API of `audio.engine.Metronome` and
`audio.cue_player.CuePlayer` (what the app and the CLI use of it), and run those objects in the engine
process (`audio.engine_host`, started and restarted by `audio.engine_process`). Calls that answer wait for
the answer; tempo changes, fades and mutes are posted and applied at the next beat or bar, as in one
process. Listeners get the engine's events from a dispatcher thread here, so a slow listener can delay
nothing but itself. After an engine restart each metronome is rebuilt as it was (`_Desired`).
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

from audio import engine_protocol as p
from audio.cue_state import FADE_BARS, CueState
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
from audio.engine_process import ENGINE, EngineLost, EngineProcess, EngineTarget
from audio.errors import OutputError
from audio.song import Loop
from audio.tempo import Number, TempoSettings, check_bpm, exact
from audio.tempo_map import TempoMap


@dataclass
class _Desired:
    """What a metronome should be, kept here so a restarted engine can rebuild it."""

    settings: TempoSettings
    opened: bool = False
    origin: float | None = None
    click_gain: float = 1.0
    muted: dict[str, bool] = field(default_factory=dict)


class RemoteMetronome(EngineTarget):
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
