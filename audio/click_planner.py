"""The metronome's click planner: commits whole beats to every live output a look-ahead in advance.

It runs in the scheduler thread only (see `audio.engine` for how time flows): the `Metronome` posts
changes to it as requests, and it applies them to the first beat not yet committed.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Protocol

import mido

from audio.audio_output import StreamOutput
from audio.engine_config import AUDIO, MIDI, Boundary, MidiConfig
from audio.engine_events import BeatEvent, Dispatcher
from audio.fade import Fade
from audio.midi_output import clocks_per_beat
from audio.render import ClickRenderer, ScheduleFull, sample_at
from audio.sounds import SoundBank
from audio.tempo import Level
from audio.tempo_map import TempoMap

log = logging.getLogger(__name__)

_HEALTH_EVERY_S = 1.0


@dataclass
class OutputSlot:
    """Engine-side state of one output: the device object, and whether clicks are committed to it."""

    name: str
    device: Any
    open: bool = False
    tried: bool = False
    muted: bool = False
    message: str = ""


class PlannerHost(Protocol):
    """The metronome as its planner uses it (`audio.engine.Metronome`).

    A protocol, so the engine and its planner do not import each other; the planner reaches into the
    metronome's outputs, sound bank and dispatcher because it commits the beats they play.
    """

    midi_config: MidiConfig | None
    _outputs: dict[str, OutputSlot]
    _renderer: ClickRenderer | None
    _bank: SoundBank | None
    _dispatcher: Dispatcher

    @property
    def audio_output(self) -> StreamOutput | None: ...

    def _fail(self, name: str, message: str) -> None: ...

    def _check_health(self, planner: ClickPlanner) -> None: ...


class ClickPlanner:
    """Commits whole beats to the outputs a look-ahead in advance (runs in the scheduler thread only)."""

    def __init__(
        self, engine: PlannerHost, tempo: TempoMap, origin: float, first_beat: int, click_gain: float
    ) -> None:
        self.engine = engine
        self.tempo = tempo
        self.origin = origin
        self.next_beat = first_beat
        self.click_fade = Fade.constant(click_gain)
        """Click gain by beat: scales audio clicks and MIDI velocities (fading the click out and back)."""
        self.requests: queue.SimpleQueue[Callable[[ClickPlanner], None]] = queue.SimpleQueue()
        self.audio_origin: int | None = None
        """Stream sample of beat 0, fixed per start (and per reconnect) so audio intervals stay exact."""
        self._next_health = 0.0
        self._last_frames = -1
        self._frames_seen_at = 0.0
        self._xruns_told = 0

    def perf_time(self, seconds: Fraction) -> float:
        """Engine-clock time of a tempo-map time. While audio plays, its sample clock is the master:
        a sound card's clock differs from the system clock by up to ~0.01-0.03 %, and following the
        stream's drift-tracking mapping keeps MIDI and beat events with the audio over a whole session."""
        audio, origin_sample = self.engine.audio_output, self.audio_origin
        if origin_sample is not None and audio is not None:
            return audio.perf_at(origin_sample + sample_at(seconds, audio.samplerate))
        return self.origin + float(seconds)

    def beat_at(self, perf: float) -> Fraction:
        """The inverse of `perf_time(tempo.time_at(beat))`, on the same (audio-slaved) clock, to a sample."""
        audio, origin_sample = self.engine.audio_output, self.audio_origin
        if origin_sample is not None and audio is not None:
            return self.tempo.beat_at(Fraction(audio.sample_at(perf) - origin_sample, audio.samplerate))
        return self.tempo.beat_at(perf - self.origin)

    def change_beat(self, boundary: Boundary) -> int:
        beat = max(self.next_beat, 0)
        return beat if boundary is Boundary.BEAT else self.tempo.next_bar_line(beat)

    def events_until(self, horizon: float) -> Iterable[tuple[float, mido.Message]]:
        while True:
            try:
                request = self.requests.get_nowait()
            except queue.Empty:
                break
            try:
                request(self)
            except Exception:  # a bad change must never stop the clicks already playing
                log.exception("tempo change could not be applied; playing on unchanged")
        now = time.perf_counter()
        if now >= self._next_health:
            self._next_health = now + _HEALTH_EVERY_S
            self.engine._check_health(self)
        events: list[tuple[float, mido.Message]] = []
        while self.perf_time(self.tempo.time_at(self.next_beat)) < horizon:
            self._commit(self.tempo.clicks_of_beat(self.next_beat), events)
            self.next_beat += 1
        return events

    def _commit(self, clicks: list[Any], events: list[tuple[float, mido.Message]]) -> None:
        engine = self.engine
        audio, midi = engine._outputs.get(AUDIO), engine._outputs.get(MIDI)
        renderer, bank = engine._renderer, engine._bank
        play_audio = audio is not None and audio.open and not audio.muted and self.audio_origin is not None
        play_midi = midi is not None and midi.open and not midi.muted
        midi_settings = engine.midi_config.settings if engine.midi_config else None
        for click in clicks:
            at = self.perf_time(click.time_s)
            gain = self.click_fade.gain_at(click.beat_index)
            audible = gain > 0 and click.level is not Level.SILENT
            if play_audio and renderer is not None and bank is not None and audible:
                assert self.audio_origin is not None
                position = self.audio_origin + sample_at(click.time_s, bank.samplerate)
                try:
                    renderer.schedule(position, bank.index(click.level), gain)
                except ScheduleFull as exc:
                    engine._fail(AUDIO, f"{exc}: reconnect the audio device and press reconnect")
                    play_audio = False
            if play_midi and midi_settings is not None:
                notes = midi_settings.note_messages(click.level)
                velocity = round(notes[0].velocity * gain) if notes is not None else 0
                if notes is not None and velocity > 0:
                    gate = min(midi_settings.gate_s, 30 / float(click.bpm) / len(clicks))
                    events += [(at, notes[0].copy(velocity=velocity)), (at + gate, notes[1])]
            engine._dispatcher.publish(
                BeatEvent(
                    click.beat_index,
                    click.bar,
                    click.beat,
                    click.sub,
                    click.level,
                    click.bpm,
                    at,
                    click.count_in,
                )
            )
        if play_midi and midi_settings is not None and midi_settings.clock:
            self._commit_clock(clicks[0].beat_index, events)

    def _commit_clock(self, beat: int, events: list[tuple[float, mido.Message]]) -> None:
        per_beat = clocks_per_beat(self.tempo.section_at(max(beat, 0)).settings.meter)
        if beat == 0:
            events.append((self.perf_time(self.tempo.time_at(0)), mido.Message("start")))
        for k in range(per_beat):
            at = self.perf_time(self.tempo.time_at(beat + Fraction(k, per_beat)))
            events.append((at, mido.Message("clock")))
