"""Built-in grooves: the right meter, GM drums on channel 10, intensity levels, the song cursor interface."""

from __future__ import annotations

from collections import Counter
from fractions import Fraction

import pytest

from audio.grooves import (
    BASS_DRUM,
    DRUM_CHANNEL,
    GROOVES,
    INTENSITIES,
    PEDAL_HI_HAT,
    SNARE,
    groove_for_meter,
)
from audio.tempo import TimeSignature

FIXED = {"march": "2/4", "waltz": "3/4", "rock": "4/4", "shuffle68": "6/8"}


def test_the_named_set_is_what_plans_may_ask_for() -> None:
    assert set(GROOVES) == {"march", "waltz", "rock", "shuffle68", "lullaby"}
    assert {name: str(GROOVES[name].signature) for name in FIXED} == FIXED
    assert GROOVES["lullaby"].signature is None


@pytest.mark.parametrize("name", sorted(GROOVES))
@pytest.mark.parametrize("intensity", INTENSITIES)
def test_every_hit_is_inside_the_bar_and_beat_one_is_played(name: str, intensity: int) -> None:
    groove = GROOVES[name]
    bar = groove.meter_for().bar_beats
    hits = groove.hits(intensity)
    assert hits and all(0 <= h.beat < bar and 1 <= h.velocity <= 127 for h in hits)
    assert any(h.beat == 0 for h in hits)
    assert list(hits) == sorted(hits)


@pytest.mark.parametrize("name", sorted(GROOVES))
def test_higher_intensity_adds_instruments_and_strength(name: str) -> None:
    groove = GROOVES[name]
    levels = [groove.hits(i) for i in INTENSITIES]
    instruments = [{h.note for h in hits} for hits in levels]
    assert len(instruments[0]) < len(instruments[2])
    assert instruments[0] <= instruments[1] | instruments[2]
    downbeats = [max(h.velocity for h in hits if h.beat == 0) for hits in levels]
    assert downbeats == sorted(downbeats) and downbeats[0] < downbeats[2]
    assert sum(h.velocity for h in levels[0]) < sum(h.velocity for h in levels[2])


def test_the_grooves_carry_their_meter() -> None:
    march = {(h.beat, h.note) for h in GROOVES["march"].hits(2)}
    assert {(Fraction(0), BASS_DRUM), (Fraction(1), BASS_DRUM), (Fraction(1, 2), SNARE)} <= march
    waltz = GROOVES["waltz"].hits(1)
    assert [(h.beat, h.note) for h in waltz] == [(0, BASS_DRUM), (1, PEDAL_HI_HAT), (2, PEDAL_HI_HAT)]
    rock = {(h.beat, h.note) for h in GROOVES["rock"].hits(1)}
    assert rock == {(0, BASS_DRUM), (1, SNARE), (2, BASS_DRUM), (3, SNARE)}  # the backbeat on 2 and 4
    shuffle = GROOVES["shuffle68"].hits(2)
    assert {h.beat for h in shuffle} == {Fraction(n, 2) for n in range(6)}  # eighth notes, in two pulses
    assert max(shuffle, key=lambda h: h.velocity).beat in (0, Fraction(3, 2))


@pytest.mark.parametrize(("meter", "pulses"), [("4/4", 4), ("5/4", 5), ("7/8", 7), ("6/8", 2), ("12/8", 4)])
def test_the_lullaby_pulses_in_any_meter(meter: str, pulses: int) -> None:
    signature = TimeSignature.parse(meter)
    kicks = [h for h in GROOVES["lullaby"].hits(1, meter) if h.beat < signature.bar_beats]
    assert [h.beat for h in kicks] == [n * signature.pulse_beats for n in range(pulses)]
    assert kicks[0].velocity > kicks[-1].velocity  # beat one leads
    assert all(h.velocity <= 70 for h in GROOVES["lullaby"].hits(3, meter))  # always soft


def test_default_groove_per_meter() -> None:
    chosen = {meter: groove_for_meter(meter).name for meter in ("2/4", "3/4", "4/4", "6/8", "5/4", "7/8")}
    assert chosen == {
        "2/4": "march",
        "3/4": "waltz",
        "4/4": "rock",
        "6/8": "shuffle68",
        "5/4": "lullaby",
        "7/8": "lullaby",
    }
    assert groove_for_meter(TimeSignature(3, 4)) is GROOVES["waltz"]


def test_wrong_meter_or_intensity_is_explained() -> None:
    with pytest.raises(ValueError, match="waltz groove is in 3/4; for 4/4 use rock"):
        GROOVES["waltz"].hits(2, "4/4")
    with pytest.raises(ValueError, match="intensity 4"):
        GROOVES["rock"].hits(4)


def test_a_groove_plays_forever_bar_after_bar_on_the_drum_channel() -> None:
    cursor = GROOVES["waltz"].cursor(intensity=1)
    taken = cursor.take_until(3 * 100)
    assert {i.message.channel for i in taken} == {DRUM_CHANNEL}
    ons = [(i.beat, i.message.note) for i in taken if i.message.type == "note_on"]
    one_bar = [(b, n) for b, n in ons if b < 3]
    assert ons == [(b + 3 * bar, n) for bar in range(100) for b, n in one_bar]
    balance = Counter(i.message.type for i in taken)
    assert balance["note_on"] == balance["note_off"]
    assert not cursor.finished


def test_intensity_changes_at_the_next_bar_line() -> None:
    cursor = GROOVES["rock"].cursor(intensity=1)
    cursor.take_until(Fraction(3, 2))
    cursor.set_intensity(3)
    assert cursor.intensity == 3
    taken = cursor.take_until(8)
    first_bar = {i.message.note for i in taken if i.message.type == "note_on" and i.beat < 4}
    second_bar = {i.message.note for i in taken if i.message.type == "note_on" and i.beat >= 4}
    assert first_bar == {h.note for h in GROOVES["rock"].hits(1)}
    assert second_bar == {h.note for h in GROOVES["rock"].hits(3)}


def test_beat_unit_counts_pulses_for_the_engine() -> None:
    cursor = GROOVES["shuffle68"].cursor(beat_unit=Fraction(3, 2))
    ons = [
        i.beat for i in cursor.take_until(4) if i.message.type == "note_on" and i.message.note == BASS_DRUM
    ]
    assert ons == [0, 2]  # one bass drum per bar of two dotted-quarter beats


def test_by_default_a_groove_counts_the_meter_s_written_beat() -> None:
    ons = [
        i.beat for i in GROOVES["shuffle68"].cursor(intensity=2).take_until(12) if i.message.note == BASS_DRUM
    ]
    assert [b for b in ons if b == int(b)] == [0, 6]  # a bar of 6/8 is six engine beats


def test_a_stopped_groove_leaves_nothing_sounding() -> None:
    cursor = GROOVES["march"].cursor(intensity=3)
    taken = cursor.take_until(Fraction(7, 4) + Fraction(1, 100))  # just after the closing drag's note-on
    held = Counter(i.message.note for i in taken if i.message.type == "note_on")
    held.subtract(i.message.note for i in taken if i.message.type == "note_off")
    released = Counter(i.message.note for i in cursor.release(at=2))
    assert +held == released and released
