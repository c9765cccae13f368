"""The `Metronome` façade: one tempo map, its outputs (speaker, MIDI) and its listeners.

How time flows (isobar's clock/output split): the tempo map gives exact seconds from beat 0; `start()`
pins beat 0 to an engine-clock time (`time.perf_counter()`, CLOCK_MONOTONIC on Linux, also JACK's clock).
The scheduler thread asks the click planner, a look-ahead (~0.12 s) in advance, for each next beat; the
planner then *commits* that beat to every live output at once: sample positions into the audio renderer
(via the stream's perf-to-sample mapping, read once per start so intervals stay exact), note and clock
messages into the MIDI scheduler, and a BeatEvent to the listeners' dispatcher.

Changes (tempo, settings, mute) are requests the planner applies to the first beat not yet committed,
or the next bar line after it, so they land glitch-free at the next beat or bar. Nothing the UI does
runs on the timing path: every public method only swaps a reference or posts a request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from fractions import Fraction

import mido
import numpy as np

from audio.audio_output import AudioOutput, StreamOutput
from audio.click_planner import ClickPlanner, OutputSlot
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
from audio.engine_events import Dispatcher, EngineEvent, OutputProblem, Xruns
from audio.errors import OutputError
from audio.jack_audio import JackAudioOutput, is_jack_device
from audio.midi_output import MidiOutput
from audio.render import ClickRenderer, SampleSource, sample_at
from audio.scheduler import EventSource, MidiScheduler
from audio.sounds import SoundBank
from audio.tempo import Number, TempoSettings, check_bpm, exact
from audio.tempo_map import TempoMap

log = logging.getLogger(__name__)

_STALL_S = 0.5


class Metronome:
    """A metronome over audio and/or MIDI. Call from any thread; nothing here blocks the timing path.

    Typical use::

        m = Metronome(TempoSettings(bpm=96), audio=AudioConfig(), midi=MidiConfig(virtual="Companion"))
        problems = m.open()          # outputs that could not open (the rest still play)
        m.add_listener(print)        # BeatEvent / OutputProblem, from a dispatcher thread
        m.start(); m.set_tempo(100); m.stop(); m.close()

    With neither output (`Metronome(settings)`) it still keeps time and publishes every BeatEvent: a
    visual metronome for the app's beat light when no sound device is usable.
    """

    def __init__(
        self,
        settings: TempoSettings,
        *,
        audio: AudioConfig | None = None,
        midi: MidiConfig | None = None,
        lookahead_s: float = 0.12,
        lead_s: float = 0.15,
        collect_garbage: bool = False,
    ) -> None:
        """`collect_garbage`: the scheduler thread runs the garbage collector between deadlines (the engine
        process turns automatic collection off; see `audio.scheduler`)."""
        self.settings = settings
        self.audio_config = audio
        self.midi_config = midi
        self.lookahead_s = lookahead_s
        self.lead_s = lead_s
        self.collect_garbage = collect_garbage
        self._dispatcher = Dispatcher()
        self._outputs: dict[str, OutputSlot] = {}
        self._renderer: ClickRenderer | None = None
        self._bank: SoundBank | None = None
        self._sample_sources: list[SampleSource] = []
        self._event_sources: list[EventSource] = []
        self._scheduler: MidiScheduler | None = None
        self._planner: ClickPlanner | None = None
        self._click_gain = 1.0
        self._lock = threading.Lock()  # serialises start/stop/open/close/reconnect between callers
        if audio is not None:
            self._outputs[AUDIO] = OutputSlot(AUDIO, self._speaker(audio))
        if midi is not None:
            self._outputs[MIDI] = OutputSlot(
                MIDI, MidiOutput(midi.port, virtual=midi.virtual, backend=midi.backend)
            )

    # --- outputs --------------------------------------------------------------------------------

    def _speaker(self, config: AudioConfig) -> StreamOutput:
        """Straight into JACK for the device "jack" or "jack:PORTS" (exact frames: see `jack_audio`),
        else through PortAudio."""
        if is_jack_device(config.device):
            assert isinstance(config.device, str)
            return JackAudioOutput(config.device, on_stream_end=self._audio_ended)
        return AudioOutput(
            config.device,
            samplerate=config.samplerate,
            latency=config.latency,
            on_stream_end=self._audio_ended,
        )

    @property
    def audio_output(self) -> StreamOutput | None:
        out = self._outputs.get(AUDIO)
        return out.device if out is not None else None

    @property
    def midi_output(self) -> MidiOutput | None:
        out = self._outputs.get(MIDI)
        return out.device if out is not None else None

    def open(self) -> list[OutputProblem]:
        """Open every output that is not open; return (and publish) a problem for each that fails."""
        with self._lock:
            return self._open_outputs()

    def _open_outputs(self, retry: bool = True) -> list[OutputProblem]:
        problems = []
        # MIDI first: opening a JACK MIDI port holds the GIL while the server rebuilds its graph, which
        # would stall a running audio callback (it needs the GIL too) until JACK times it out.
        for out in sorted(self._outputs.values(), key=lambda o: o.name != MIDI):
            if out.open or (out.tried and not retry):
                continue
            out.tried = True
            try:
                out.device.open()
            except OutputError as exc:
                out.message = str(exc)
                problems.append(OutputProblem(out.name, str(exc), time=time.perf_counter()))
                continue
            out.open, out.message = True, ""
            if out.name == AUDIO:
                self._attach_audio(out.device)
        for problem in problems:
            self._dispatcher.publish(problem)
        return problems

    def _attach_audio(self, device: StreamOutput) -> None:
        assert self.audio_config is not None
        if self._bank is None or self._bank.samplerate != device.samplerate:
            self._bank = SoundBank(device.samplerate, self.audio_config.voices)
            self._renderer = ClickRenderer(self._bank.arrays)
        assert self._renderer is not None
        device.sources = (self._renderer, *self._sample_sources)

    def close(self) -> None:
        """Stop and release every device."""
        self.stop()
        with self._lock:
            for out in sorted(self._outputs.values(), key=lambda o: o.name != AUDIO):
                out.device.close()
                out.open = False
            self._dispatcher.stop()

    def reconnect(self) -> list[OutputProblem]:
        """Reopen outputs that failed (or were never opened); the engine keeps playing meanwhile."""
        with self._lock:
            failed_before = {name for name, out in self._outputs.items() if not out.open}
            planner = self._planner
            if AUDIO in failed_before and planner is not None:
                planner.audio_origin = None  # the new stream counts samples from 0 again
            for name in failed_before:
                self._outputs[name].device.close()
            problems = self._open_outputs()
            for name in failed_before - {p.output for p in problems}:
                if name == AUDIO and planner is not None and self._renderer is not None:
                    self._renderer.clear_pending()
                    planner.audio_origin = self._audio_origin(planner.origin)
                self._dispatcher.publish(
                    OutputProblem(name, f"{name} output is back", recovered=True, time=time.perf_counter())
                )
            return problems

    def _audio_origin(self, origin: float) -> int | None:
        out = self._outputs.get(AUDIO)
        return out.device.sample_at(origin) if out is not None and out.open else None

    def set_muted(self, output: str, muted: bool) -> None:
        """Mute or unmute 'audio' or 'midi' from the next beat (e.g. to fade the cue out in RAS)."""
        if output not in self._outputs:
            raise ValueError(f"no {output!r} output: this metronome has {sorted(self._outputs)}")
        self._outputs[output].muted = muted

    def add_sample_source(self, source: SampleSource) -> None:
        """Mix another sound source (e.g. a song's synth) into the audio stream, on the same sample clock."""
        self._sample_sources.append(source)
        device = self.audio_output
        if device is not None and self._renderer is not None:
            device.sources = (self._renderer, *self._sample_sources)

    def remove_sample_source(self, source: SampleSource) -> None:
        """Stop mixing `source` (from the next audio block)."""
        self._sample_sources = [s for s in self._sample_sources if s is not source]
        device = self.audio_output
        if device is not None and self._renderer is not None:
            device.sources = (self._renderer, *self._sample_sources)

    def add_event_source(self, source: EventSource) -> None:
        """Send another timed MIDI source (a song, a groove) through the same scheduler and port.

        Under the transport lock: a source added while `start()` hands the sources to a new scheduler
        must reach that scheduler, not only the list it has already read."""
        with self._lock:
            self._event_sources.append(source)
            if self._scheduler is not None:
                self._scheduler.add_source(source)

    def remove_event_source(self, source: EventSource) -> None:
        """Stop polling `source`; what it already returned is still sent (or released on stop)."""
        with self._lock:
            self._event_sources = [s for s in self._event_sources if s is not source]
            if self._scheduler is not None:
                self._scheduler.remove_source(source)

    # --- listeners ------------------------------------------------------------------------------

    def add_listener(self, listener: Callable[[EngineEvent], None]) -> Callable[[], None]:
        """Get BeatEvents (at their time), OutputProblems and Xruns counts from a dispatcher thread;
        returns remove()."""
        self._dispatcher.start()
        return self._dispatcher.add(listener)

    # --- transport ------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._planner is not None

    @property
    def tempo_map(self) -> TempoMap | None:
        planner = self._planner
        return planner.tempo if planner is not None else None

    @property
    def origin(self) -> float | None:
        """Engine-clock (perf_counter) time of beat 0 of the current run."""
        planner = self._planner
        return planner.origin if planner is not None else None

    def time_of(self, beat: Number) -> float | None:
        """Engine-clock time at which a (fractional) beat of the current run sounds, following ramps,
        changes made so far and, while audio plays, the audio clock. For songs and grooves placing
        notes on the same map, and for the UI. None when stopped."""
        planner = self._planner
        return planner.perf_time(planner.tempo.time_at(beat)) if planner is not None else None

    def sample_of(self, beat: Number) -> int | None:
        """The audio stream sample at which a (fractional) beat sounds: where a SampleSource (a song's
        synth) must start a note to sit exactly on the clicks. None when stopped or without audio."""
        planner, device = self._planner, self.audio_output
        if planner is None or device is None or planner.audio_origin is None:
            return None
        return planner.audio_origin + sample_at(planner.tempo.time_at(beat), device.samplerate)

    def beat_at(self, perf_time: float) -> Fraction | None:
        """The (fractional) beat of the current run sounding at an engine-clock time, e.g. a client's hit
        timestamped with `time.perf_counter()`: the inverse of `time_of` (to one audio sample while audio
        plays, since both follow the audio clock). None when stopped."""
        planner = self._planner
        return planner.beat_at(perf_time) if planner is not None else None

    def start(self, at: float | None = None) -> float:
        """Start; the count-in begins at `at` (perf_counter; default: now + lead). Returns beat 0's time.

        Outputs never opened are opened first; those that fail are reported and the rest play. Raises
        OutputError only when no output at all can play.
        """
        with self._lock:
            if self._planner is not None:
                return self._planner.origin
            self._open_outputs(retry=False)  # failed ones wait for reconnect(): retrying costs seconds
            if self._outputs and not any(out.open for out in self._outputs.values()):
                raise OutputError(
                    "no output could be opened", "; ".join(o.message for o in self._outputs.values())
                )
            self._dispatcher.start()
            tempo = TempoMap(self.settings)
            # A larger audio buffer plays later: the first click must still be ahead of the one being filled.
            begin = (time.perf_counter() + max(self.lead_s, self._lookahead())) if at is None else at
            origin = begin - float(tempo.time_at(-tempo.count_in_beats))
            planner = ClickPlanner(self, tempo, origin, -tempo.count_in_beats, self._click_gain)
            planner.audio_origin = self._audio_origin(origin)
            scheduler = MidiScheduler(
                self._send_midi,
                on_error=self._midi_failed,
                lookahead_s=self._lookahead(),
                collect_garbage=self.collect_garbage,
            )
            scheduler.add_source(planner)
            for source in self._event_sources:
                scheduler.add_source(source)
            self._scheduler, self._planner = scheduler, planner
            scheduler.start()
            return origin

    def _lookahead(self) -> float:
        device = self.audio_output
        latency = device.output_latency if device is not None else 0.0
        return max(self.lookahead_s, latency + 0.05)

    def stop(self) -> None:
        """Stop at once: pending clicks are dropped, MIDI gets all-notes-off (and Stop if clock is on)."""
        with self._lock:
            scheduler, self._scheduler = self._scheduler, None
            self._planner = None
            if scheduler is None:
                return
            scheduler.stop()
            if self._renderer is not None:
                self._renderer.clear_pending()
            midi = self._outputs.get(MIDI)
            if midi is not None and midi.open and self.midi_config is not None:
                settings = self.midi_config.settings
                messages = ([mido.Message("stop")] if settings.clock else []) + settings.stop_messages()
                for message in messages:
                    self._send_midi(message)

    def set_click_gain(self, gain: float, over_beats: Number = 0) -> None:
        """Fade the click (audio level and MIDI velocity) to `gain` (0-1) from the next beat, over
        `over_beats` beats: e.g. 0 over two bars to test carry-over, then 1 to bring it back. A fade asked
        mid-fade starts from the gain reached, so it can be reversed at any time."""
        if not 0.0 <= gain <= 1.0:
            raise ValueError(f"click gain {gain:g} is out of range: use 0 (silent) to 1 (full)")
        length = exact(over_beats, "fade length")
        if length < 0:
            raise ValueError(f"a fade cannot last {float(length):g} beats")
        self._click_gain = gain
        planner = self._planner
        if planner is None:
            return

        def apply(p: ClickPlanner) -> None:
            beat = max(p.next_beat, 0)
            p.click_fade = p.click_fade.toward(gain, beat, length)

        planner.requests.put(apply)

    @property
    def click_gain(self) -> float:
        """The click gain asked for last (reached at the end of its fade)."""
        return self._click_gain

    def set_tempo(self, bpm: Number, at: Boundary = Boundary.BEAT) -> None:
        """Change the tempo from the next beat (or bar); a running ramp ends there. Raises TempoError."""
        check_bpm(bpm)
        planner = self._planner
        current = planner.tempo.section_at(max(planner.next_beat, 0)).settings if planner else self.settings
        self.set_settings(current.with_changes(bpm=bpm, ramp=None), at)

    def set_settings(self, settings: TempoSettings, at: Boundary = Boundary.BAR) -> None:
        """Play `settings` from the next bar line (or beat, when the meter stays the same)."""
        self.settings = settings
        planner = self._planner
        if planner is None:
            return

        def apply(p: ClickPlanner) -> None:
            current = p.tempo.section_at(max(p.next_beat, 0)).settings
            boundary = Boundary.BAR if settings.meter != current.meter else at
            p.tempo = p.tempo.with_change(p.change_beat(boundary), settings)

        planner.requests.put(apply)

    # --- status and health ----------------------------------------------------------------------

    def status(self) -> EngineStatus:
        planner = self._planner
        bpm = planner.tempo.bpm_at(max(planner.next_beat - 1, 0)) if planner else self.settings.bpm
        audio = self.audio_output
        return EngineStatus(
            running=planner is not None,
            bpm=bpm,
            outputs={
                name: OutputState(name, o.open, o.muted, o.message) for name, o in self._outputs.items()
            },
            xruns=audio.xruns if audio is not None else 0,
            late_clicks=self._renderer.late if self._renderer is not None else 0,
            dropped_events=self._dispatcher.dropped,
        )

    def timings(self) -> Timings:
        scheduler = self._scheduler
        if scheduler is None:
            return Timings(np.zeros(0), False, ())
        return Timings(scheduler.jitter.recent(), scheduler.realtime, tuple(scheduler.gc_pauses))

    def _send_midi(self, message: mido.Message) -> None:
        out = self._outputs.get(MIDI)
        if out is not None and out.open:
            out.device.send(message)

    def _fail(self, name: str, message: str) -> None:
        out = self._outputs.get(name)
        if out is None or not out.open:
            return
        out.open, out.message = False, message
        self._dispatcher.publish(OutputProblem(name, message, time=time.perf_counter()))

    def _midi_failed(self, error: OutputError) -> None:
        self._fail(MIDI, str(error))

    def _audio_ended(self, why: str) -> None:
        self._fail(
            AUDIO,
            f"{why}: the device was unplugged or the audio server stopped; reconnect it and press reconnect",
        )

    def _check_health(self, planner: ClickPlanner) -> None:
        """Called from the scheduler thread about once a second: notice vanished devices."""
        midi = self._outputs.get(MIDI)
        if midi is not None and midi.open and not midi.device.still_present():
            self._fail(
                MIDI,
                f"MIDI output {midi.device.name!r} disappeared (unplugged?): "
                "plug it back in and press reconnect",
            )
        audio = self._outputs.get(AUDIO)
        if audio is not None and audio.open:
            now, frames, xruns = time.perf_counter(), audio.device.frames, audio.device.xruns
            if xruns != planner._xruns_told:
                planner._xruns_told = xruns
                self._dispatcher.publish(Xruns(xruns, now))
            if frames != planner._last_frames:
                planner._last_frames, planner._frames_seen_at = frames, now
            elif now - planner._frames_seen_at > _STALL_S:
                self._fail(
                    AUDIO,
                    "audio device stopped producing sound (unplugged or server stopped): "
                    "reconnect it and press reconnect",
                )
