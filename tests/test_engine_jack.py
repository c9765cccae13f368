"""The engine against a real JACK server, checked from a second JACK client's recording.

Every assertion is about what the recorder heard (audio samples, MIDI events with their JACK frames),
never the engine's own counters. Each test's assertions on what was heard are its take's check
(`engine_takes.play`): a take whose witness lost cycles is judged only if they hold, else played again.
MIDI over python-rtmidi's JACK API leaves at the start of the next JACK period (128 frames = 2.67 ms), so
MIDI tolerances are one period plus scheduling slack; audio is exact. The engine plays in its own process
(`RemoteMetronome`, as shipped) except where a test needs the in-process `Metronome` itself.
"""

from __future__ import annotations

import itertools
import statistics
import time
from fractions import Fraction

import mido
import numpy as np
import pytest
from support.engine_takes import (
    JACK_MIDI,
    MIDI_EARLY_S,
    MIDI_LATE_S,
    PERIOD_S,
    Engine,
    Take,
    midi_metronome,
    play,
)
from support.recorder import RecorderProcess

from audio.engine import Metronome
from audio.engine_client import RemoteMetronome
from audio.engine_config import AudioConfig, Boundary, MidiConfig
from audio.engine_events import BeatEvent, OutputProblem
from audio.midi_output import GM_NOTES, MidiSettings
from audio.render import sample_at
from audio.sounds import SoundBank
from audio.tempo import Level, LinearRamp, TempoSettings, TimeSignature

pytestmark = pytest.mark.jack

PARTNER_MS = 20
"""A click's MIDI note-on is this close to its audio onset (one constant offset well inside it); clicks are
hundreds of milliseconds apart, so a partner is never another click's."""


def test_audio_clicks_land_on_their_exact_samples(jack_server):
    settings = TempoSettings(bpm=97, meter=TimeSignature(3, 4), subdivision=2)
    stream_samples: list[int | None] = []

    def ask_where_beats_are(metronome: Engine) -> None:
        assert isinstance(metronome, Metronome)
        stream_samples[:] = [metronome.sample_of(beat) for beat in (0, Fraction(5, 2))]

    def clicks_exact_to_the_sample(take: Take) -> None:
        """Every click at the tempo map's sample, each the level's sound sample for sample."""
        rec = take.rec
        onsets = rec.audio_onsets(gap=100)
        bank = SoundBank(48_000)
        clicks = list(itertools.islice(take.tempo.clicks(0), len(onsets)))
        assert len(onsets) >= 8
        expected = [sample_at(c.time_s, 48_000) for c in clicks]
        # Every interval is exactly the tempo map's, in samples: 0 samples of error.
        assert [b - a for a, b in itertools.pairwise(onsets)] == np.diff(expected).tolist()
        # And each click is the level's sound, sample for sample (accent cowbell, beat wood block, sub click).
        start = rec.first_frame
        for onset, click in zip(onsets, clicks, strict=True):
            sound = bank.arrays[bank.index(click.level)]
            heard = rec.audio[onset - start : onset - start + len(sound)]
            np.testing.assert_array_equal(heard[:64], sound[:64])

    make = lambda: Metronome(settings, audio=AudioConfig())  # noqa: E731  (in-process: sample_of)
    take = play(make, 2.6, audio=True, during=ask_where_beats_are, check=clicks_exact_to_the_sample)
    assert take.problems == []
    first, fifth_click = stream_samples  # the judged take's (each take overwrites them)
    assert first is not None and fifth_click is not None
    assert fifth_click - first == sample_at(Fraction(5, 2) * 60 / 97, 48_000)


def test_midi_notes_follow_the_ramping_tempo_map_with_the_right_notes(jack_server):
    ramp = LinearRamp(to_bpm=140, beats=8)
    settings = TempoSettings(bpm=100, meter=TimeSignature(4, 4), ramp=ramp, count_in_bars=1)

    def notes_on_the_ramp(take: Take) -> None:
        """Every click's note and velocity, each at its time on the ramping map."""
        notes = take.rec.note_ons()
        assert len(notes) >= 12
        clicks = list(itertools.islice(take.tempo.clicks(), len(notes)))
        assert [(n, v) for _, n, v in notes] == [
            (76, 120) if c.level is Level.ACCENT else (77, 96) for c in clicks
        ]
        errors = [
            take.rec.to_perf(f) - (take.origin + float(c.time_s))
            for (f, _, _), c in zip(notes, clicks, strict=True)
        ]
        assert min(errors) > -MIDI_EARLY_S, errors
        assert max(errors) < MIDI_LATE_S, errors
        assert statistics.median(errors) < PERIOD_S, errors
        intervals = np.diff([frame for frame, _, _ in notes]) / 48_000
        expected = np.diff([float(c.time_s) for c in clicks])
        assert np.max(np.abs(intervals - expected)) < PERIOD_S + 0.004

    play(midi_metronome(settings), 4.0, midi="click", check=notes_on_the_ramp)


def test_tempo_change_lands_on_the_next_beat(jack_server):
    asked: list[float] = []

    def change_soon(metronome: Engine) -> None:
        time.sleep(1.1)
        asked.append(time.perf_counter())
        metronome.set_tempo(60, Boundary.BEAT)

    def slows_from_the_next_beat(take: Take) -> None:
        """Half-second beats, then one-second beats from the first beat not yet sent when asked."""
        times = [take.rec.to_perf(frame) for frame, _, _ in take.rec.note_ons()]
        intervals = np.diff(times)
        change = next((i for i, dt in enumerate(intervals) if dt > 0.75), None)
        assert change is not None, f"no slow beat heard: {intervals}"
        assert np.all(np.abs(intervals[:change] - 0.5) < PERIOD_S + 0.004)
        assert np.all(np.abs(intervals[change:] - 1.0) < PERIOD_S + 0.004)
        # The first slow beat is the first beat not yet sent when asked (look-ahead 0.12 s): within one beat.
        assert 0 < times[change] - asked[-1] < 0.5 + 0.12 + MIDI_LATE_S  # this take's ask
        assert take.tempo.bpm_at(change - 1) == 120 and take.tempo.bpm_at(change) == 60

    play(
        midi_metronome(TempoSettings(bpm=120)),
        3.0,
        midi="click",
        during=change_soon,
        check=slows_from_the_next_beat,
    )


def test_stop_sends_all_notes_off_and_clock_start_stop(jack_server):
    make = midi_metronome(TempoSettings(bpm=120), MidiSettings(clock=True))

    def start_clocks_and_stop_heard(take: Take) -> None:
        """One start with beat 0, 24 clocks a beat, then stop and all notes off."""
        rec = take.rec
        kinds = [data for _, data in rec.midi]
        assert kinds.count(b"\xfa") == 1
        assert kinds[-5:] == [
            b"\xfc",
            bytes([0xB9, 123, 0]),
            bytes([0x89, 42, 0]),
            bytes([0x89, 76, 0]),
            bytes([0x89, 77, 0]),
        ]
        clocks = [frame for frame, data in rec.midi if data == b"\xf8"]
        start_frame = next(frame for frame, data in rec.midi if data == b"\xfa")
        beats = [frame for frame, _, _ in rec.note_ons()]
        assert beats, "no beat heard"
        assert start_frame == beats[0]
        per_beat = [sum(1 for c in clocks if a <= c < b) for a, b in itertools.pairwise(beats)]
        # A tick and its beat's note leave together; a period boundary between them moves one tick across.
        assert all(abs(n - 24) <= 1 for n in per_beat) and abs(sum(per_beat) - 24 * len(per_beat)) <= 1

    play(make, 1.6, midi="click", check=start_clocks_and_stop_heard)


def test_audio_and_midi_share_one_time_base(jack_server):
    config = MidiConfig(virtual="both", backend=JACK_MIDI)
    make = lambda: RemoteMetronome(TempoSettings(bpm=150), audio=AudioConfig(), midi=config)  # noqa: E731

    def one_constant_offset(take: Take) -> None:
        """Each click heard on both outputs, MIDI a constant offset from audio with no drift.

        Judged on every click and note-on the witness saw cleanly with their partner's place (all of
        them in a clean take): a click with no note-on or two near it, or a note-on with no click, fails."""
        rec, near = take.rec, PARTNER_MS * 48
        audio = rec.audio_onsets(gap=100)
        midi = [frame for frame, _, _ in rec.note_ons()]
        judged_audio, judged_midi = rec.trusted_near(audio, near), rec.trusted_near(midi, near)
        if rec.clean:
            assert (judged_audio, judged_midi) == (audio, midi)  # a clean take is judged whole
        partners = [[m for m in midi if abs(m - a) <= near] for a in judged_audio]
        assert [len(p) for p in partners] == [1] * len(judged_audio), (judged_audio, midi)
        assert all(any(abs(m - a) <= near for a in audio) for m in judged_midi), (audio, judged_midi)
        assert len(judged_audio) >= 6
        offsets_ms = (np.array([p[0] for p in partners]) - np.array(judged_audio)) / 48
        # One constant offset (PortAudio's reported latency vs MIDI leaving at the next period), no drift.
        assert np.ptp(offsets_ms) <= 128 / 48 + 1.0, offsets_ms
        assert abs(np.median(offsets_ms)) < 15, offsets_ms

    take = play(make, 3.0, audio=True, midi="both", check=one_constant_offset)
    assert take.problems == []


def test_a_missing_midi_port_is_reported_and_audio_plays_on(jack_server):
    events: list[list[object]] = []  # each take's events (a retake makes a new metronome)

    def make() -> Engine:
        midi = MidiConfig(port="no-such-keyboard", backend=JACK_MIDI)
        metronome = RemoteMetronome(TempoSettings(bpm=120), audio=AudioConfig(), midi=midi)
        events.append([])
        metronome.add_listener(events[-1].append)
        return metronome

    def audio_heard(take: Take) -> None:
        """The audio clicks play on without MIDI."""
        assert len(take.rec.audio_onsets(gap=100)) >= 2

    take = play(make, 1.2, audio=True, check=audio_heard)
    assert [p.output for p in take.problems] == ["midi"]
    assert "'no-such-keyboard' not found" in take.problems[0].message
    assert "companion devices" in take.problems[0].message
    assert take.status.outputs["midi"].available is False and take.status.outputs["audio"].available is True
    assert any(isinstance(e, OutputProblem) and e.output == "midi" for e in events[-1])


def test_unplugged_midi_device_is_reported_and_reconnect_brings_it_back(jack_server):
    """The MIDI 'device' is a recorder in another process; ending that process unplugs its port."""
    events: list[object] = []
    device = RecorderProcess("drum-module", 20)
    metronome = Metronome(
        TempoSettings(bpm=240), midi=MidiConfig(port="drum-module:midi_in", backend=JACK_MIDI)
    )
    metronome.add_listener(events.append)
    second = None
    try:
        assert metronome.open() == []
        metronome.start()
        time.sleep(1.0)
        before = device.stop()
        deadline = time.perf_counter() + 5
        while metronome.status().outputs["midi"].available and time.perf_counter() < deadline:
            time.sleep(0.05)
        lost = metronome.status().outputs["midi"]
        assert not lost.available and "disappeared" in lost.message and "reconnect" in lost.message
        assert metronome.running
        assert [p.output for p in metronome.reconnect()] == ["midi"]  # still unplugged: says so again
        second = RecorderProcess("drum-module", 20)
        assert metronome.reconnect() == []
        assert metronome.status().outputs["midi"].available
        time.sleep(1.0)
    finally:
        metronome.close()
        after = second.stop() if second is not None else None
    assert len(before.note_ons()) >= 3
    assert after is not None and len(after.note_ons()) >= 3
    problems = [e for e in events if isinstance(e, OutputProblem)]
    assert next((p.output, p.recovered) for p in problems) == ("midi", False)
    assert problems[-1].recovered


def test_listeners_get_beats_at_their_time_and_cannot_delay_the_engine(jack_server):
    heard: list[list[tuple[float, BeatEvent]]] = []  # each take's beats, as its listener got them

    def attach(metronome: Engine) -> None:
        this_take: list[tuple[float, BeatEvent]] = []
        heard.append(this_take)

        def slow_listener(event: object) -> None:
            if isinstance(event, BeatEvent):
                this_take.append((time.perf_counter(), event))
                time.sleep(0.3)  # slower than the beat: must not hold the clicks back

        metronome.add_listener(slow_listener)

    def every_click_on_time(take: Take) -> None:
        """Every click, in order and on time, despite the slow listener."""
        notes = take.rec.note_ons()
        clicks = list(itertools.islice(take.tempo.clicks(), len(notes)))
        assert len(notes) >= 14
        assert [note for _, note, _ in notes] == [GM_NOTES[c.level] for c in clicks]  # every click, in order
        errors = [
            take.rec.to_perf(f) - (take.origin + float(c.time_s))
            for (f, _, _), c in zip(notes, clicks, strict=True)
        ]
        assert min(errors) > -MIDI_EARLY_S and max(errors) < MIDI_LATE_S, errors

    make = midi_metronome(TempoSettings(bpm=240, subdivision=2))
    play(make, 2.0, midi="click", during=attach, check=every_click_on_time)
    first_time, first = next((t, e) for t, e in heard[-1] if e.beat_index == 0)  # the judged take's
    assert first.sub == 0 and first.level is Level.ACCENT
    assert first.bpm == Fraction(240) and not first.count_in
    assert -0.001 < first_time - first.time < 0.05  # a UI flash needs ~50 ms, not sample accuracy


def test_a_missing_audio_device_is_reported_and_midi_plays_on(jack_server):
    def make() -> Engine:
        midi = MidiConfig(virtual="click", backend=JACK_MIDI)
        audio = AudioConfig(device="no-such-soundcard")
        return RemoteMetronome(TempoSettings(bpm=240), audio=audio, midi=midi)

    def midi_heard(take: Take) -> None:
        """The MIDI clicks play on without audio."""
        assert len(take.rec.note_ons()) >= 3

    take = play(make, 1.0, midi="click", check=midi_heard)
    assert [p.output for p in take.problems] == ["audio"]
    message = take.problems[0].message
    assert "cannot open audio device 'no-such-soundcard'" in message and "companion devices" in message
    assert take.status.outputs["audio"].available is False


def test_mute_silences_from_the_next_beat_and_unmute_resumes(jack_server):
    marks: list[float] = []

    def mute_then_unmute(metronome: Engine) -> None:
        time.sleep(0.8)
        marks.append(time.perf_counter())
        metronome.set_muted("midi", True)
        time.sleep(1.0)
        marks.append(time.perf_counter())
        metronome.set_muted("midi", False)

    def silent_while_muted(take: Take) -> None:
        """Clicks before the mute and after the unmute, none in between but those already committed."""
        times = [take.rec.to_perf(f) for f, _, _ in take.rec.note_ons()]
        muted, unmuted = marks[-2:]  # this take's marks (a retake appends again)
        # Beats already committed (one look-ahead, 0.12 s) still sound; nothing else until unmuted.
        assert all(not (muted + 0.12 + MIDI_LATE_S < t < unmuted) for t in times), (times, marks)
        assert any(t > unmuted for t in times) and any(t < muted for t in times)

    play(
        midi_metronome(TempoSettings(bpm=240)),
        2.5,
        midi="click",
        during=mute_then_unmute,
        check=silent_while_muted,
    )


def test_another_event_source_plays_on_the_same_tempo_map(jack_server):
    """How a song or groove plugs in: an EventSource whose notes sit on the metronome's beats."""

    class OffBeats:
        def __init__(self) -> None:
            self.metronome: Metronome | None = None
            self.next_beat = Fraction(1, 2)

        def events_until(self, horizon: float) -> list[tuple[float, mido.Message]]:
            events = []
            while self.metronome is not None and (at := self.metronome.time_of(self.next_beat)) is not None:
                if at >= horizon:
                    break
                events.append((at, mido.Message("note_on", channel=0, note=60, velocity=80)))
                self.next_beat += 1
            return events

    song = OffBeats()

    def make() -> Metronome:  # in-process: add_event_source takes a Python object
        metronome = Metronome(TempoSettings(bpm=120), midi=MidiConfig(virtual="click", backend=JACK_MIDI))
        song.metronome, song.next_beat = metronome, Fraction(1, 2)
        metronome.add_event_source(song)
        return metronome

    def offbeats_between_the_clicks(take: Take) -> None:
        """The source's notes on every off-beat of the metronome's map, the clicks heard too."""
        notes = take.rec.note_ons()
        clicks = [take.rec.to_perf(f) for f, n, _ in notes if n != 60]
        offbeats = [take.rec.to_perf(f) for f, n, _ in notes if n == 60]
        assert len(offbeats) >= 3 and len(clicks) >= 3
        for k, at in enumerate(offbeats):
            assert abs(at - (take.origin + 0.25 + 0.5 * k)) < MIDI_LATE_S

    play(make, 2.0, midi="click", check=offbeats_between_the_clicks)


def test_meter_change_lands_on_the_next_bar_line(jack_server):
    def waltz_soon(metronome: Engine) -> None:
        time.sleep(0.9)  # inside bar 1 of 4/4 at 240 bpm (bars are 1 s)
        metronome.set_settings(TempoSettings(bpm=240, meter=TimeSignature(3, 4)))

    def waltz_from_a_bar_line(take: Take) -> None:
        """4/4 bars, then 3/4 from the next bar line, every beat evenly spaced."""
        accents = "".join("A" if note == 76 else "b" for _, note, _ in take.rec.note_ons())
        # Bars 0 and 1 (the change is asked during bar 0 or 1) stay 4/4; then 3/4 from a bar line,
        # evenly spaced.
        change = accents.find("Abb" + "A", 4)
        assert change >= 0, f"no 3/4 bar heard: {accents}"
        assert accents[:change] in ("Abbb", "AbbbAbbb") and accents[change:].startswith("AbbAbbAbb")
        frames = [f for f, _, _ in take.rec.note_ons()]
        assert np.all(np.abs(np.diff(frames) / 48_000 - 0.25) < PERIOD_S + 0.004)

    play(
        midi_metronome(TempoSettings(bpm=240)),
        3.2,
        midi="click",
        during=waltz_soon,
        check=waltz_from_a_bar_line,
    )
