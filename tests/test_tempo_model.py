"""The tempo model: exact beat and click times, meters, accents, swing, count-in, ramps and changes."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audio.tempo import Level, LinearRamp, StepRamp, TempoError, TempoSettings, TimeSignature
from audio.tempo_map import TempoMap

A, B, S, X = Level.ACCENT, Level.BEAT, Level.SUB, Level.SILENT


def test_beat_7200_at_120_bpm_is_exactly_one_hour():
    tempo = TempoMap(TempoSettings(bpm=120))
    assert tempo.time_at(7200) == 3600
    assert tempo.beat_at(3600) == 7200


def test_no_drift_over_an_hour_of_beats_at_an_awkward_tempo():
    bpm = Fraction("97.3")
    tempo = TempoMap(TempoSettings(bpm=97.3))
    beats = int(3600 * bpm / 60)
    clicks = list(itertools.islice(tempo.clicks(), beats + 1))
    assert [c.time_s for c in clicks] == [n * 60 / bpm for n in range(beats + 1)]
    assert clicks[-1].time_s <= 3600 < clicks[-1].time_s + 60 / bpm


@pytest.mark.parametrize(
    ("meter", "accents"),
    [
        ("2/4", (A, B)),
        ("3/4", (A, B, B)),
        ("4/4", (A, B, B, B)),
        ("5/4", (A, B, B, B, B)),
        ("6/8", (A, S, S, B, S, S)),
        ("7/8", (A, B, B, B, B, B, B)),
        ("12/8", (A, S, S, B, S, S, B, S, S, B, S, S)),
    ],
)
def test_meters_number_bars_and_accent_the_first_beat(meter, accents):
    tempo = TempoMap(TempoSettings(bpm=100, meter=TimeSignature.parse(meter)))
    per_bar = len(accents)
    clicks = list(itertools.islice(tempo.clicks(), 3 * per_bar))
    assert [c.level for c in clicks] == list(accents) * 3
    assert [(c.bar, c.beat) for c in clicks] == [(b, i) for b in range(3) for i in range(per_bar)]


def test_accent_patterns_accept_codes_and_names():
    assert TempoSettings(bpm=90, meter=TimeSignature(4, 4), accents="A-bs").levels == (A, X, B, S)
    assert TempoSettings(bpm=90, meter=TimeSignature(3, 4), accents=["accent", "silent", "beat"]).levels == (
        A,
        X,
        B,
    )
    assert TempoSettings(bpm=90, meter=TimeSignature(3, 4), accents="accent, beat, beat").levels == (A, B, B)
    with pytest.raises(TempoError, match="3 levels but the bar has 4 beats"):
        TempoSettings(bpm=90, accents="Abb")
    with pytest.raises(TempoError, match="'loud' is not a level"):
        TempoSettings(bpm=90, meter=TimeSignature(2, 4), accents=["accent", "loud"])


@pytest.mark.parametrize(("subdivision", "count"), [(1, 1), (2, 2), (3, 3), ("triplet", 3), (4, 4)])
def test_subdivisions_split_each_beat_evenly(subdivision, count):
    tempo = TempoMap(TempoSettings(bpm=60, subdivision=subdivision))
    clicks = list(itertools.islice(tempo.clicks(), 2 * count))
    assert [c.time_s for c in clicks] == [Fraction(k, count) for k in range(2 * count)]
    assert [c.sub for c in clicks] == list(range(count)) * 2
    assert [c.level for c in clicks] == ([A] + [S] * (count - 1)) + ([B] + [S] * (count - 1))
    assert [c.is_subdivision for c in clicks[:count]] == [False] + [True] * (count - 1)


def test_swing_delays_every_second_subdivision():
    eighths = TempoMap(TempoSettings(bpm=60, subdivision=2, swing=Fraction(1, 3)))
    assert [c.time_s for c in itertools.islice(eighths.clicks(), 4)] == [0, Fraction(2, 3), 1, Fraction(5, 3)]
    sixteenths = TempoMap(TempoSettings(bpm=60, subdivision=4, swing=0.2))
    assert [c.time_s for c in itertools.islice(sixteenths.clicks(), 4)] == [
        0,
        Fraction(1, 4) + Fraction(1, 20),
        Fraction(1, 2),
        Fraction(3, 4) + Fraction(1, 20),
    ]
    triplets = TempoMap(TempoSettings(bpm=60, subdivision=3, swing=0.3))
    assert [c.time_s for c in itertools.islice(triplets.clicks(), 3)] == [0, Fraction(1, 3), Fraction(2, 3)]


def test_count_in_precedes_beat_zero_without_subdivisions():
    tempo = TempoMap(TempoSettings(bpm=120, meter=TimeSignature(3, 4), subdivision=2, count_in_bars=2))
    clicks = list(itertools.islice(tempo.clicks(), 8))
    count_in = clicks[:6]
    assert [c.beat_index for c in count_in] == [-6, -5, -4, -3, -2, -1]
    assert all(c.count_in for c in count_in)
    assert [c.time_s for c in count_in] == [Fraction(k, 2) for k in range(-6, 0)]
    assert [(c.bar, c.beat, c.level) for c in count_in] == [
        (-2, 0, A),
        (-2, 1, B),
        (-2, 2, B),
        (-1, 0, A),
        (-1, 1, B),
        (-1, 2, B),
    ]
    assert (clicks[6].beat_index, clicks[6].count_in, clicks[6].time_s, clicks[6].bar) == (0, False, 0, 0)
    assert clicks[7].sub == 1


def test_linear_ramp_changes_tempo_every_beat_then_holds():
    tempo = TempoMap(TempoSettings(bpm=100, ramp=LinearRamp(to_bpm=110, beats=10)))
    bpms = [tempo.bpm_at(k) for k in range(12)]
    assert bpms == [100 + k for k in range(10)] + [110, 110]
    expected = [sum((Fraction(60, 100 + j) for j in range(k)), Fraction(0)) for k in range(11)]
    assert [tempo.time_at(k) for k in range(11)] == expected
    assert tempo.time_at(12) == expected[10] + 2 * Fraction(60, 110)
    assert tempo.time_at(Fraction(25, 2)) == expected[10] + Fraction(5, 2) * Fraction(60, 110)


def test_linear_ramp_can_slow_down_and_start_elsewhere():
    tempo = TempoMap(TempoSettings(bpm=80, ramp=LinearRamp(from_bpm=120, to_bpm=60, beats=4)))
    assert [tempo.bpm_at(k) for k in range(6)] == [120, 105, 90, 75, 60, 60]


def test_percent_ramp_steps_every_n_bars_up_to_the_limit():
    settings = TempoSettings(
        bpm=100, meter=TimeSignature(4, 4), ramp=StepRamp(percent=5, every_bars=2, max_bpm=112)
    )
    tempo = TempoMap(settings)
    assert [tempo.bpm_at(bar * 4) for bar in range(0, 10, 2)] == [100, 105, Fraction("110.25"), 112, 112]
    assert (tempo.bpm_at(7), tempo.bpm_at(9)) == (100, 105)
    assert tempo.time_at(8) == 8 * Fraction(60, 100)
    assert tempo.time_at(16) == 8 * Fraction(60, 100) + 8 * Fraction(60, 105)


def test_percent_ramp_down_stops_at_the_floor_and_unbounded_up_stops_at_300():
    down = TempoMap(TempoSettings(bpm=100, ramp=StepRamp(percent=-10, every_bars=1, max_bpm=85)))
    assert [down.bpm_at(b * 4) for b in range(4)] == [100, 90, 85, 85]
    up = TempoMap(TempoSettings(bpm=250, ramp=StepRamp(percent=10, every_bars=1)))
    assert [up.bpm_at(b * 4) for b in range(4)] == [250, 275, 300, 300]


@given(
    bpm=st.integers(20, 300),
    to=st.integers(20, 300),
    beats=st.integers(1, 64),
    seconds=st.fractions(min_value=-10, max_value=600),
)
def test_beat_at_inverts_time_at_and_both_are_monotonic(bpm, to, beats, seconds):
    tempo = TempoMap(TempoSettings(bpm=bpm, ramp=LinearRamp(to_bpm=to, beats=beats), count_in_bars=1))
    beat = tempo.beat_at(seconds)
    assert tempo.time_at(beat) == seconds
    assert tempo.beat_at(seconds + Fraction(1, 1000)) > beat
    assert tempo.time_at(beat + Fraction(1, 7)) > seconds


def test_fractional_beats_accept_floats_exactly():
    tempo = TempoMap(TempoSettings(bpm=120))
    assert tempo.time_at(12.5) == Fraction(25, 4)
    assert tempo.beat_at(0.25) == Fraction(1, 2)


def test_change_at_a_beat_keeps_the_past_and_restarts_from_there():
    tempo = TempoMap(TempoSettings(bpm=120))
    changed = tempo.with_change(6, TempoSettings(bpm=60))
    assert [changed.time_at(k) for k in range(9)] == [Fraction(k, 2) for k in range(7)] + [4, 5]
    clicks = list(itertools.islice(changed.clicks(0), 9))
    assert [(c.bar, c.beat) for c in clicks] == [(k // 4, k % 4) for k in range(9)]
    assert [c.bpm for c in clicks[5:8]] == [120, 60, 60]


def test_meter_change_at_a_bar_line_renumbers_from_there():
    tempo = TempoMap(TempoSettings(bpm=120))
    assert tempo.next_bar_line(5) == 8
    assert tempo.next_bar_line(8) == 8
    changed = tempo.with_change(8, TempoSettings(bpm=120, meter=TimeSignature(3, 4)))
    clicks = list(itertools.islice(changed.clicks(6), 6))
    assert [(c.bar, c.beat, c.level) for c in clicks] == [
        (1, 2, B),
        (1, 3, B),
        (2, 0, A),
        (2, 1, B),
        (2, 2, B),
        (3, 0, A),
    ]
    assert changed.next_bar_line(12) == 14
    with pytest.raises(TempoError, match="bar line"):
        tempo.with_change(5, TempoSettings(bpm=120, meter=TimeSignature(3, 4)))


def test_ramp_in_a_change_starts_at_the_change():
    ramp = TempoSettings(bpm=100, ramp=LinearRamp(to_bpm=104, beats=4))
    tempo = TempoMap(TempoSettings(bpm=100)).with_change(4, ramp)
    assert [tempo.bpm_at(k) for k in range(10)] == [100, 100, 100, 100, 100, 101, 102, 103, 104, 104]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bpm": 19}, "bpm 19 is out of range: use 20-300 bpm"),
        ({"bpm": 301}, "out of range"),
        ({"bpm": "fast"}, "bpm must be a number"),
        ({"bpm": float("nan")}, "bpm must be a number"),
        ({"bpm": 90, "subdivision": 5}, "subdivision 5 is out of range"),
        ({"bpm": 90, "swing": 0.6}, "swing 0.6 is out of range"),
        ({"bpm": 90, "count_in_bars": -1}, "count-in -1 bars"),
        ({"bpm": 90, "bpm_min": 95}, "outside this plan's range 95-300"),
    ],
)
def test_bad_settings_name_the_value_and_the_range(kwargs, message):
    with pytest.raises(TempoError, match=message):
        TempoSettings(**kwargs)


@pytest.mark.parametrize("text", ["3-4", "x/4", "0/4", "4/3", ""])
def test_bad_meters_are_rejected(text):
    with pytest.raises(TempoError, match="meter"):
        TimeSignature.parse(text)


def test_from_mapping_reads_a_plan_tempo_table():
    settings = TempoSettings.from_mapping(
        {
            "bpm": 96,
            "bpm_min": 80,
            "bpm_max": 120,
            "meter": "3/4",
            "subdivision": "triplet",
            "accents": ["accent", "beat", "silent"],
            "swing": 0,
            "count_in_bars": 1,
            "ramp": {"kind": "percent", "percent": 5, "every_bars": 4, "max_bpm": 110},
        }
    )
    assert settings == TempoSettings(
        bpm=96,
        meter=TimeSignature(3, 4),
        accents=(A, B, X),
        subdivision=3,
        count_in_bars=1,
        ramp=StepRamp(percent=5, every_bars=4, max_bpm=110),
        bpm_min=80,
        bpm_max=120,
    )
    linear = TempoSettings.from_mapping({"bpm": 90, "ramp": {"kind": "linear", "to_bpm": 100, "beats": 32}})
    assert linear.ramp == LinearRamp(to_bpm=100, beats=32)


def test_from_mapping_takes_a_plan_preset_as_the_plan_library_dumps_it():
    """The shape of `TempoPreset.as_engine_kwargs()` in interventions/ (plain values, None left out)."""
    preset = {
        "bpm": 84.0,
        "bpm_min": 60.0,
        "bpm_max": 100.0,
        "meter": "9/8",
        "subdivision": 1,
        "swing": 0.0,
        "count_in_bars": 1,
        "cue": "march",
        "ramp": {"kind": "percent", "percent": 5.0, "every_bars": 8, "max_bpm": 120.0},
    }
    settings = TempoSettings.from_mapping(preset)
    assert (settings.bpm, settings.cue, settings.meter, settings.levels[:4]) == (
        84,
        "march",
        TimeSignature(9, 8),
        (A, S, S, B),
    )
    assert TempoMap(settings).bpm_at(9 * 8) == Fraction("88.2")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"meter": "3/4"}, "needs 'bpm'"),
        ({"bpm": 90, "tempo": 3}, "unknown tempo setting"),
        ({"bpm": 90, "ramp": {"kind": "linear", "beats": 8}}, "needs 'to_bpm'"),
        ({"bpm": 90, "ramp": {"kind": "exponential"}}, "ramp kind 'exponential' is unknown"),
        ({"bpm": 90, "ramp": {"kind": "linear", "to_bpm": 400, "beats": 8}}, "ramp to_bpm 400"),
        ({"bpm": 90, "ramp": {"kind": "percent", "percent": 0, "every_bars": 2}}, "ramp percent 0"),
    ],
)
def test_from_mapping_errors_say_what_is_wrong(data, message):
    with pytest.raises(TempoError, match=message):
        TempoSettings.from_mapping(data)


def test_with_changes_keeps_other_fields_and_resets_accents_with_the_meter():
    settings = TempoSettings(bpm=90, accents="A-bb", subdivision=2)
    faster = settings.with_changes(bpm=100)
    assert (faster.bpm, faster.levels, faster.subdivision) == (100, (A, X, B, B), 2)
    waltz = settings.with_changes(meter=TimeSignature(3, 4))
    assert waltz.levels == (A, B, B)
