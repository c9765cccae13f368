"""Playing an `EventTrack` on the metronome's beat: what to send when, and never a hanging note.

A `PlaybackCursor` hands the scheduler `(beat, mido.Message)` pairs on a **playback timeline**: metronome
beats counted from where playback began, increasing across loop wrap-arounds and already corrected by the
tempo factors. The engine turns them into seconds with its tempo map (`TempoMap.time_at(beat)`), so ramps and
live tempo changes move the song exactly as they move the click. The cursor also remembers what it has let
sound, so stop, seek, loop wrap-around and device errors always end every note it started.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from fractions import Fraction

import mido

from audio.event_track import BeatLike, BeatRange, EventTrack, TimedMessage

SUSTAIN_PEDAL = 64
CHANNEL_MODE_CONTROLS = 120
"""Controllers from 120 up are channel mode messages (all notes off, reset...): never replayed on a seek."""


class SoundingNotes:
    """The notes and sustain pedals a receiver holds, from the messages it was sent, so all can be let go.

    A note-off for a note that is not sounding is refused (`admit` returns False): that happens after a seek
    or a loop wrap ended the note early, and the second note-off must not cut a later note of that pitch.
    """

    def __init__(self) -> None:
        self._notes: Counter[tuple[int, int]] = Counter()
        self._pedals: set[int] = set()

    def admit(self, message: mido.Message) -> bool:
        """Record a message about to be sent; False means drop it (an orphan note-off)."""
        if message.type == "note_on":
            self._notes[(message.channel, message.note)] += 1
        elif message.type == "note_off":
            key = (message.channel, message.note)
            if not self._notes[key]:
                return False
            self._notes[key] -= 1
            if not self._notes[key]:
                del self._notes[key]
        elif message.type == "control_change" and message.control == SUSTAIN_PEDAL:
            if message.value >= 64:
                self._pedals.add(message.channel)
            else:
                self._pedals.discard(message.channel)
        return True

    @property
    def notes(self) -> Mapping[tuple[int, int], int]:
        """(channel, note) -> how many times it is sounding."""
        return dict(self._notes)

    def release(self) -> list[mido.Message]:
        """Note-offs (and pedal releases) for everything held, which is then forgotten."""
        offs = [
            mido.Message("note_off", channel=channel, note=note)
            for (channel, note), count in sorted(self._notes.items())
            for _ in range(count)
        ]
        offs += [
            mido.Message("control_change", channel=channel, control=SUSTAIN_PEDAL, value=0)
            for channel in sorted(self._pedals)
        ]
        self._notes.clear()
        self._pedals.clear()
        return offs


class PlaybackCursor:
    """Walks an `EventTrack` for the scheduler: `(playback beat, message)` pairs in order, loops, seeks.

    Playback beats are metronome beats counted from the cursor's start (beat 0): they keep increasing across
    loop wrap-arounds and include the track's tempo factors and `beat_unit`, the metronome beat in quarter
    notes (the engine counts the meter's written beat: 1 in 4/4, 1/2 in 6/8; 3/2 would count dotted
    quarters). The scheduler sends each message at `tempo_map.time_at(origin_beat + beat)`.

    Contract: the scheduler sends what `take_until` returns at its time, and what `seek` and `release` return
    at once; on a seek or stop it hands its unsent look-ahead back (`unsent=`). Then no note is ever left
    hanging. Not thread-safe: one scheduler thread owns it.
    """

    def __init__(
        self,
        track: EventTrack,
        *,
        start: BeatLike = 0,
        loop: BeatRange | None = None,
        beat_unit: BeatLike = 1,
        last_bar_end: BeatLike | None = None,
    ) -> None:
        """`last_bar_end`: where the song's last bar ends, when a final partial bar stops the track short
        of it; a loop may run to there (its rest is silence), so a loop over whole bars keeps the bar."""
        self._track = track
        self._loop_limit = max(track.length_beats, Fraction(last_bar_end or 0))
        self._unit = Fraction(beat_unit)
        if self._unit <= 0:
            raise ValueError(f"beat unit {beat_unit}: must be a positive number of quarter notes")
        self._sounding = SoundingNotes()
        self._loop = self._checked_loop(loop)
        # The current pass: a stretch of song beats played without a jump, from a start, seek or wrap.
        self._pass_start = self._position = self._pass_playback = self._pass_main_beats = self._end = (
            Fraction(0)
        )
        self._index = self._stop_index = 0
        self._finished = False
        self._pending: list[TimedMessage] = []
        self._begin(Fraction(start), Fraction(0))

    @property
    def sounding(self) -> Mapping[tuple[int, int], int]:
        """(channel, note) -> count of notes this cursor has started and not yet ended."""
        return self._sounding.notes

    @property
    def finished(self) -> bool:
        return self._finished and not self._pending

    @property
    def loop(self) -> BeatRange | None:
        return self._loop

    @property
    def position(self) -> Fraction:
        """The song beat reached: where the last event taken sits (or where a pass began)."""
        return self._position

    def next_beat(self) -> Fraction | None:
        """The earliest playback beat at which `take_until` may return something; None when finished.

        It can be a note-off that turns out to be an orphan, so a scheduler may wake up for nothing, but it
        is never later than the next real message.
        """
        if self._pending:
            return self._pending[0].beat
        if self._finished:
            return None
        if self._index < self._stop_index:
            return self._playback_beat(self._track.events[self._index].beat)
        return self._playback_beat(self._end)

    def take_until(self, horizon: BeatLike) -> list[TimedMessage]:
        """Every message with playback beat < `horizon`, in order; the cursor moves past them."""
        limit = Fraction(horizon)
        taken: list[TimedMessage] = []
        while True:
            if self._pending:
                if self._pending[0].beat >= limit:
                    break
                item = self._pending.pop(0)
                if self._sounding.admit(item.message):
                    taken.append(item)
                continue
            if self._finished:
                break
            if self._index < self._stop_index:
                event = self._track.events[self._index]
                beat = self._playback_beat(event.beat)
                if beat >= limit:
                    break
                self._index += 1
                self._position = event.beat
                if self._sounding.admit(event.message):
                    taken.append(TimedMessage(beat, event.message))
                continue
            beat = self._playback_beat(self._end)
            if beat >= limit:
                break
            taken += (TimedMessage(beat, off) for off in self._sounding.release())
            self._end_pass(beat)
        return taken

    def release(self, at: BeatLike, unsent: Iterable[TimedMessage] = ()) -> list[TimedMessage]:
        """Note-offs for everything sounding, to send now: on stop, on a device error, on a tempo re-map.

        `unsent` is what the scheduler took but will no longer send (its look-ahead queue): their note-offs
        and pedal releases are still due, because the cursor counted those notes as ended when it gave them.
        """
        beat = Fraction(at)
        still_due = [m.message for m in unsent if ends_something(m.message)]
        return [TimedMessage(beat, off) for off in still_due + self._sounding.release()]

    def seek(
        self, song_beat: BeatLike, at: BeatLike, unsent: Iterable[TimedMessage] = ()
    ) -> list[TimedMessage]:
        """Continue from `song_beat` at playback beat `at`; returns the note-offs to send now (see `release`).

        Program and controller settings in force at `song_beat` are resent first (at `at`), so a seek into
        the middle of a song sounds as if it had been played from the start.
        """
        target = Fraction(song_beat)
        if target < 0:
            raise ValueError(f"seek to beat {song_beat}: positions start at beat 0")
        offs = self.release(at, unsent)
        self._begin(target, Fraction(at))
        return offs

    def set_loop(self, loop: BeatRange | None) -> None:
        """Loop [start, end) from now on (None stops looping); if playback is already past its end, the song
        plays on to its end instead."""
        self._loop = self._checked_loop(loop)
        self._set_pass_end()

    def _checked_loop(self, loop: BeatRange | None) -> BeatRange | None:
        if loop is None:
            return None
        start, end = Fraction(loop.start), Fraction(loop.end)
        if not 0 <= start < end <= self._loop_limit:
            raise ValueError(
                f"loop beats {start}-{end}: must be a non-empty span inside the song's "
                f"{self._loop_limit} beats"
            )
        return BeatRange(start, end)

    def _begin(self, song_beat: Fraction, playback_beat: Fraction) -> None:
        """Start a pass at `song_beat`, heard at `playback_beat`, after resending the settings in force."""
        self._pass_start = self._position = song_beat
        self._pass_playback = playback_beat
        self._pass_main_beats = self._track.factors.main_beats_at(song_beat)
        self._index = self._track.index_at(song_beat)
        self._finished = False
        self._pending = [TimedMessage(playback_beat, m) for m in self._settings_before(self._index)]
        self._set_pass_end()

    def _set_pass_end(self) -> None:
        if self._loop is not None and self._position < self._loop.end:
            self._end = self._loop.end
        else:
            self._end = max(self._track.length_beats, self._position)
        self._stop_index = self._track.index_at(self._end)

    def _end_pass(self, beat: Fraction) -> None:
        """At the end of a pass: wrap to the loop start, or finish. A wrap resends the settings in force at
        the loop start, so a program change inside the loop does not carry into the next pass."""
        loop = self._loop
        if loop is not None and self._end == loop.end and self._loop_has_events(loop):
            self._begin(loop.start, beat)
        else:
            self._finished = True

    def _loop_has_events(self, loop: BeatRange) -> bool:
        return self._track.index_at(loop.start) < self._track.index_at(loop.end)

    def _playback_beat(self, song_beat: Fraction) -> Fraction:
        main_beats = self._track.factors.main_beats_at(song_beat) - self._pass_main_beats
        return self._pass_playback + main_beats / self._unit

    def _settings_before(self, index: int) -> list[mido.Message]:
        """Programs, controllers and pitch bends in force before event `index` (a sequencer's "chase")."""
        programs: dict[int, mido.Message] = {}
        controls: dict[tuple[int, int], mido.Message] = {}
        bends: dict[int, mido.Message] = {}
        for event in self._track.events[:index]:
            message = event.message
            if message.type == "program_change":
                programs[message.channel] = message
            elif message.type == "control_change" and message.control < CHANNEL_MODE_CONTROLS:
                controls[(message.channel, message.control)] = message
            elif message.type == "pitchwheel":
                bends[message.channel] = message
        return (
            [programs[k] for k in sorted(programs)]
            + [controls[k] for k in sorted(controls)]
            + [bends[k] for k in sorted(bends)]
        )


def ends_something(message: mido.Message) -> bool:
    """A note-off or a sustain pedal release: what must still be sent when a look-ahead is dropped."""
    return message.type == "note_off" or (
        message.type == "control_change" and message.control == SUSTAIN_PEDAL and message.value < 64
    )
