"""Plays a groove or a song on a `Metronome`, on its tempo map: the adapter between cursors and the engine.

How it fits the engine: the player is one of the engine's event sources (`Metronome.add_event_source`), so
the scheduler thread asks it, a look-ahead in advance, for the messages due before a horizon. The player turns
that horizon into an engine beat (`Metronome.beat_at`), takes the cursor's messages up to it (positions in
beats) and places each one with `Metronome.time_of` (MIDI, engine clock) and `Metronome.sample_of` (the synth,
stream samples). Because the engine's tempo map only changes at beats it has not handed out yet, and the
player never takes messages beyond the same horizon, ramps and tempo changes move the music exactly as they
move the click, with nothing to re-time. For the speaker the player feeds a `SynthFeed`, one of the engine's
sample sources, so notes start on their exact samples.

No hanging notes: a new cue, a seek or a loop change takes effect at the next bar line, after the cursor has
handed out everything before it, and the cursor ends the notes it cut there. When the scheduler drops its
look-ahead (stop, flush), the engine hands back what it did not send (`dropped`) and the player returns
note-offs for every note still sounding, plus all-notes-off (CC 123) on every channel it used. When the MIDI
output fails, the notes the device may still hold are remembered and released as soon as it is back.

Control methods (`play`, `seek`, `set_loop`, `set_intensity`, `fade_music`, `fade_click`, `set_click`) may
be called from any thread (the UI's); they post requests that the scheduler thread applies on its next poll.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import replace
from fractions import Fraction
from math import floor

import mido

from audio.cue_state import FADE_BARS, CueState
from audio.cues import CLICK, Cue, GrooveCue, SongCue, groove_meter
from audio.engine import Metronome
from audio.engine_config import AUDIO, MIDI
from audio.engine_events import EngineEvent, OutputProblem
from audio.event_track import TimedMessage
from audio.fade import Fade
from audio.grooves import GrooveCursor
from audio.midi_output import ALL_NOTES_OFF
from audio.playback_cursor import PlaybackCursor, ends_something
from audio.song import Loop
from audio.synth import Synth
from audio.synth_feed import SynthFeed

log = logging.getLogger(__name__)

_RECENT_S = 2.0
"""How long MIDI messages handed out are remembered, to release those a failing device never got."""
_ERROR_MARGIN_S = 0.01
"""Messages due this close before a device error may not have left: treat them as unsent (a spare note-off
is harmless; a missing one hangs a note)."""


Placed = list[tuple[float, mido.Message]]
"""Messages on the engine clock, as the scheduler takes them from an event source."""
_Request = Callable[[Fraction, Placed], None]
"""A control request, run in the scheduler thread with the horizon's engine beat and the poll's output."""


class CuePlayer:
    """A metronome's musical cue: attach once (after `metronome.open()`), then `play()` any cue.

    `midi` sends the music to the metronome's MIDI output, `audio` plays it through the built-in synth on
    the metronome's speaker output; each only if the metronome has that output. `fade_bars` is the length of
    a one-key fade.
    """

    def __init__(
        self,
        metronome: Metronome,
        cue: Cue = CLICK,
        *,
        midi: bool = True,
        audio: bool = True,
        fade_bars: int = FADE_BARS,
    ) -> None:
        self._metronome = metronome
        self._cue: Cue = cue
        self._midi = midi and metronome.midi_output is not None
        device = metronome.audio_output
        self._feed = (
            SynthFeed(Synth(device.samplerate))
            if audio and device is not None and device.samplerate
            else None
        )
        self.fade_bars = fade_bars
        self._requests: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        # Scheduler-thread state: the current run, cursor and pending bar-line changes.
        self._run_origin: float | None = None
        self._cursor: PlaybackCursor | None = None
        self._start = Fraction(0)
        """The engine beat at which the cursor's playback beat 0 sounds."""
        self._changes: list[tuple[Fraction, Callable[[Fraction], list[TimedMessage]]]] = []
        self._music_target = 1.0
        self._music_fade = Fade.constant(1.0)
        self._channels: set[int] = set()
        self._recent: deque[tuple[float, mido.Message]] = deque()
        self._owed: list[mido.Message] = []
        self._midi_lost_at: float | None = None
        self._midi_back = False
        self._stream_origin: int | None = None
        self._finished = False
        self._problem: str | None = None
        self._joined_origin = metronome.origin
        """The run playing when we were attached (None: none was): only that run is joined at a bar line.
        Read before attaching: a run that starts meanwhile has only just begun, so it starts from beat 0."""
        self._remove_listener = metronome.add_listener(self._on_engine_event)
        metronome.add_event_source(self)
        if self._feed is not None:
            metronome.add_sample_source(self._feed)

    # --- control (any thread) -------------------------------------------------------------------

    @property
    def cue(self) -> Cue:
        return self._cue

    def play(self, cue: Cue) -> None:
        """Switch to `cue` at the next bar line (at beat 0 if the metronome has not started yet).

        Raises ValueError if a groove is written in another meter than the metronome's.
        """
        if isinstance(cue, GrooveCue):
            groove_meter(cue.groove, self._metronome.settings.meter)  # a groove in the wrong meter says so
        self._cue, self._problem = cue, None
        self._post(lambda beat, _out: self._at_next_bar(beat, lambda at: self._switch(cue, at)))

    def seek(self, bar: int) -> None:
        """Jump to the song's `bar` at the next bar line (before start: begin there)."""
        cue = self._song_cue("seek")
        moved = replace(cue, start_bar=bar)  # ValueError naming the song's bars
        start = cue.song.bar_start(bar)
        if not self._metronome.running:
            self._cue = moved
            return
        self._post(lambda beat, _out: self._at_next_bar(beat, lambda at: self._seek(start, at)))

    def set_loop(self, loop: Loop | None) -> None:
        """Loop bars A-B of the song from now on (None: play through to the end). If playback is already past
        the loop, it jumps to the loop's first bar at the next bar line."""
        cue = replace(self._song_cue("loop"), loop=loop)  # ValueError for bars the song lacks
        self._cue = cue
        beats = cue.song.loop_beats(loop) if loop is not None else None

        def apply(beat: Fraction, _out: Placed) -> None:
            cursor = self._cursor
            if cursor is None or isinstance(cursor, GrooveCursor):
                return
            cursor.set_loop(beats)
            if beats is not None and not beats.start <= cursor.position < beats.end:
                self._at_next_bar(beat, lambda at: self._seek(beats.start, at))

        self._post(apply)

    def set_intensity(self, intensity: int) -> None:
        """A groove's intensity (1-3), from its next bar line."""
        cue = self._cue
        if not isinstance(cue, GrooveCue):
            raise ValueError(f"only a groove has an intensity, and the cue is {cue.summary}")
        self._cue = replace(cue, intensity=intensity)  # ValueError for a bad intensity

        def apply(_beat: Fraction, _out: Placed) -> None:
            if isinstance(self._cursor, GrooveCursor):
                self._cursor.set_intensity(intensity)

        self._post(apply)

    def fade_music(self, out: bool | None = None) -> float:
        """Fade the music out (or back in) over `fade_bars` bars from the next beat; None toggles.
        Returns the gain it is heading for. Reversible at any moment, without a jump."""
        target = (0.0 if self._music_target > 0 else 1.0) if out is None else (0.0 if out else 1.0)
        self._music_target = target
        self._post(lambda beat, _out: self._fade_music_from(beat, target))
        return target

    def fade_click(self, out: bool | None = None) -> float:
        """Fade the click out (or back in) over `fade_bars` bars from the next beat; None toggles."""
        current = self._metronome.click_gain
        target = (0.0 if current > 0 else 1.0) if out is None else (0.0 if out else 1.0)
        self._metronome.set_click_gain(
            target, over_beats=self.fade_bars * self._metronome.settings.meter.beats
        )
        return target

    def set_click(self, on: bool) -> None:
        """Layer the click on the music (on) or let the music be the only cue (off), from the next beat."""
        for output in self._metronome.status().outputs:
            self._metronome.set_muted(output, not on)

    def state(self) -> CueState:
        cue, cursor = self._cue, self._cursor
        bar = None
        if isinstance(cue, SongCue) and cursor is not None:
            bar = cue.song.bar_at(cursor.position)[0]
        status = self._metronome.status()
        outputs = ((MIDI,) if self._midi else ()) + ((AUDIO,) if self._feed is not None else ())
        return CueState(
            cue=cue,
            playing=cursor is not None and not self._finished and self._metronome.running,
            finished=self._finished,
            bar=bar,
            music_gain=self._music_target,
            click_gain=self._metronome.click_gain,
            click_on=not all(state.muted for state in status.outputs.values()),
            outputs=outputs,
            problem=self._problem,
        )

    def close(self, timeout: float = 1.0) -> None:
        """Detach from the metronome; while it plays, the notes sounding are ended first."""
        self._remove_listener()
        if self._metronome.running:
            done = threading.Event()
            self._post(lambda beat, out: self._finish(beat, out, done))
            done.wait(timeout)
        self._metronome.remove_event_source(self)
        if self._feed is not None:
            time.sleep(0.05)  # let the released notes fade out rather than cut them mid-waveform
            self._metronome.remove_sample_source(self._feed)

    def _post(self, request: _Request) -> None:
        self._requests.put(request)

    def _song_cue(self, what: str) -> SongCue:
        cue = self._cue
        if not isinstance(cue, SongCue):
            raise ValueError(f"only a song can {what}, and the cue is {cue.summary}")
        return cue

    def _on_engine_event(self, event: EngineEvent) -> None:
        """From the engine's dispatcher thread: note MIDI failures and recoveries for the next poll."""
        if isinstance(event, OutputProblem) and event.output == MIDI:
            if event.recovered:
                self._midi_back = True
            else:
                self._midi_lost_at = event.time

    # --- the engine's side (scheduler thread) ---------------------------------------------------

    def events_until(self, horizon: float) -> Placed:
        """Everything due before `horizon` (perf_counter), placed on the metronome's current tempo map."""
        horizon_beat = self._metronome.beat_at(horizon)
        if horizon_beat is None:
            return []
        out: Placed = []
        try:
            if self._metronome.origin != self._run_origin:
                self._begin_run(horizon_beat)
            self._follow_stream()
            self._settle_midi_errors(out)
            while True:
                try:
                    self._requests.get_nowait()(horizon_beat, out)
                except queue.Empty:
                    break
            while self._changes and self._changes[0][0] < horizon_beat:
                at, change = self._changes.pop(0)
                self._take(at, out)
                self._place(change(at), out)
            self._take(horizon_beat, out)
        except Exception as exc:  # a bug in a cue must end its notes, never the click
            log.exception("cue %r failed", self._cue)
            self._problem = (
                f"the {self._cue.name} cue stopped ({type(exc).__name__}: {exc}); the click plays on"
            )
            self._place(self._release_cursor(horizon_beat), out)
        self._remember(out)
        return out

    def dropped(self, unsent: Sequence[tuple[float, mido.Message]]) -> list[mido.Message]:
        """The scheduler threw our look-ahead away (stop or flush): note-offs for everything sounding or
        left unsent, and all-notes-off on every channel we used, to send at once."""
        if self._feed is not None:
            self._feed.cut()
        cursor = self._cursor
        messages = list(self._owed)
        self._owed.clear()
        if cursor is not None:
            returned = [TimedMessage(Fraction(0), message) for _, message in unsent]
            messages += [item.message for item in cursor.release(0, returned)]
        else:  # the cursor already ended its notes (a switch, a close): its note-offs may be in `unsent`
            messages += [message for _, message in unsent if ends_something(message)]
        if not self._midi:
            return []
        messages += [
            mido.Message("control_change", channel=channel, control=ALL_NOTES_OFF, value=0)
            for channel in sorted(self._channels)
        ]
        return messages

    def _begin_run(self, horizon_beat: Fraction) -> None:
        """A (re)start: forget requests made for the last run (the cue already holds their result) and
        start the cue at beat 0, or at the next bar line when the player joined a running metronome.

        Whether we joined is what we saw when attached, not how far the first poll reaches: a start
        whose lead is shorter than the look-ahead (a large audio buffer) or a scheduler that began late
        polls past beat 0 at once, and the song must still begin on beat 0 with the click."""
        self._run_origin = self._metronome.origin
        with contextlib.suppress(queue.Empty):
            while True:
                self._requests.get_nowait()
        self._changes.clear()
        self._music_fade = Fade.constant(self._music_target)
        if self._feed is not None:
            self._feed.fade = Fade.constant(self._music_target)
        joined = self._run_origin == self._joined_origin and horizon_beat > 0
        start = self._next_bar(horizon_beat) if joined else Fraction(0)
        self._start_cursor(self._cue, start)

    def _start_cursor(self, cue: Cue, at: Fraction) -> None:
        self._start, self._finished = at, False
        self._cursor = None
        if isinstance(cue, GrooveCue | SongCue):
            tempo = self._metronome.tempo_map
            assert tempo is not None
            self._cursor = cue.cursor(tempo.section_at(int(at)).settings.meter)

    def _next_bar(self, beat: Fraction) -> Fraction:
        """The first bar line after `beat` (so not yet handed out by the click or by us)."""
        tempo = self._metronome.tempo_map
        assert tempo is not None
        return Fraction(tempo.next_bar_line(max(0, floor(beat) + 1)))

    def _at_next_bar(self, beat: Fraction, change: Callable[[Fraction], list[TimedMessage]]) -> None:
        self._changes.append((self._next_bar(beat), change))
        self._changes.sort(key=lambda pending: pending[0])

    def _switch(self, cue: Cue, at: Fraction) -> list[TimedMessage]:
        offs = self._release_cursor(at)
        self._start_cursor(cue, at)
        return offs

    def _seek(self, song_beat: Fraction, at: Fraction) -> list[TimedMessage]:
        cursor = self._cursor
        if cursor is None or isinstance(cursor, GrooveCursor):
            return []
        self._finished = False
        return cursor.seek(song_beat, at - self._start)

    def _release_cursor(self, at: Fraction) -> list[TimedMessage]:
        """End the cursor's notes at engine beat `at` and drop the cursor."""
        cursor, self._cursor = self._cursor, None
        if cursor is None:
            return []
        return cursor.release(max(at - self._start, Fraction(0)))

    def _finish(self, beat: Fraction, out: Placed, done: threading.Event) -> None:
        """Closing: end every note at the horizon (after everything already handed out)."""
        self._changes.clear()
        self._take(beat, out)
        self._place(self._release_cursor(beat), out)
        done.set()

    def _take(self, until: Fraction, out: Placed) -> None:
        cursor = self._cursor
        if cursor is None or until <= self._start:
            return
        self._place(cursor.take_until(until - self._start), out)
        self._finished = cursor.finished

    def _place(self, items: Sequence[TimedMessage], out: Placed) -> None:
        """Put cursor messages on the engine's clocks: MIDI (velocity faded) and the synth's samples."""
        metronome, feed = self._metronome, self._feed
        for item in items:
            beat = self._start + item.beat
            message = item.message
            if feed is not None and (frame := metronome.sample_of(beat)) is not None:
                feed.send(frame, message)
            if not self._midi or (at := metronome.time_of(beat)) is None:
                continue
            if message.type == "note_on":
                velocity = round(message.velocity * self._music_fade.gain_at(beat))
                if velocity < 1:
                    continue
                message = message.copy(velocity=velocity)
            self._channels.add(message.channel)
            out.append((at, message))

    def _fade_music_from(self, beat: Fraction, target: float) -> None:
        start = Fraction(floor(beat) + 1)
        tempo = self._metronome.tempo_map
        assert tempo is not None
        length = Fraction(self.fade_bars * tempo.section_at(int(start)).settings.meter.beats)
        self._music_fade = self._music_fade.toward(target, start, length)
        metronome, feed = self._metronome, self._feed
        first, last = metronome.sample_of(start), metronome.sample_of(start + length)
        if feed is not None and first is not None and last is not None:
            feed.fade = Fade(first, last, feed.fade.gain_at(first), target)

    def _follow_stream(self) -> None:
        """A new audio stream (after reconnect) counts samples from 0: drop notes queued on the old count."""
        origin = self._metronome.sample_of(0)
        if origin != self._stream_origin:
            if self._feed is not None and self._stream_origin is not None:
                self._feed.cut()
            self._stream_origin = origin

    def _settle_midi_errors(self, out: Placed) -> None:
        """MIDI failed: the notes the device may hold become owed note-offs; back: send them at once."""
        if not self._midi:
            return
        lost = self._midi_lost_at
        if lost is not None:
            self._midi_lost_at = None
            if self._cursor is not None:
                unsent = [
                    TimedMessage(Fraction(0), m) for at, m in self._recent if at >= lost - _ERROR_MARGIN_S
                ]
                self._owed += [item.message for item in self._cursor.release(0, unsent)]
        if self._midi_back:
            self._midi_back = False
            now = time.perf_counter()
            out += [(now, message) for message in self._owed]
            self._owed.clear()

    def _remember(self, out: Placed) -> None:
        recent = self._recent
        recent.extend(out)
        forget_before = time.perf_counter() - _RECENT_S
        while recent and recent[0][0] < forget_before:
            recent.popleft()
