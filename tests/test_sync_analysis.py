"""The synchronisation measures on small sequences whose answers are worked out by hand."""

from __future__ import annotations

import json
import math

import pytest

from audio.sync_analysis import Tolerance, analyse, match_hits

BEATS = [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
HITS = [-0.30, -0.020, 0.530, 0.560, 1.490, 2.020, 2.510, 2.760]


def test_hand_worked_example():
    """Six beats at 120 bpm (IOI 500 ms); windows are beat +- 250 ms, the first and last mirrored.

    Hits: -0.300 lies before beat 0's window [-0.25, 0.25) and 2.760 after beat 5's [2.25, 2.75): both
    outside the block. Beat 1's window holds 0.530 (+30 ms) and 0.560 (+60 ms): 0.530 is matched, 0.560
    is extra. Beat 2 (1.0 s) has no hit: missed. So n_hits = 6, matched = 5, missed = 1, extra = 1.

    Asynchronies (ms): -20, +30, -10, +20, +10.  Mean = 30 / 5 = 6.
    Deviations -26, 24, -16, 14, 4; squares 676 + 576 + 256 + 196 + 16 = 1720; SD = sqrt(1720 / 4)
    = sqrt(430) = 20.7364.
    ITIs only between consecutive beats both hit: beats 0-1: 530 - (-20) = 550; 3-4: 2020 - 1490 = 530;
    4-5: 2510 - 2020 = 490 ms. Mean 1570 / 3 = 523.333; deviations 26.667, 6.667, -33.333; squares sum
    1866.667; SD = sqrt(933.333) = 30.5505; CV = 30.5505 / 523.333 = 0.058377. Client tempo
    60000 / 523.333 = 114.650 bpm.
    Phases = 360 * async / 500: -14.4, 21.6, -7.2, 14.4, 7.2 deg.
    cos: 0.968583 + 0.929776 + 0.992115 + 0.968583 + 0.992115 = 4.851172 -> /5 = 0.970234
    sin: -0.248690 + 0.368125 - 0.125333 + 0.248690 + 0.125333 = 0.368125 -> /5 = 0.073625
    R = sqrt(0.970234^2 + 0.073625^2) = 0.973024; mean phase = atan2(0.073625, 0.970234) = 4.3395 deg.
    Rayleigh (Zar 27.4), n = 5, nR = 4.865120: exp(sqrt(1 + 20 + 4 (25 - 23.669392)) - 11)
    = exp(5.130536 - 11) = 0.0028244.
    Within +-25 ms: -20, -10, +20, +10 (not +30): 4 of 6 beats = 66.667 %.
    Asynchrony drift: x = beat times 0, 0.5, 1.5, 2, 2.5 (mean 1.3), y = async (mean 6):
    Sxy = 33.8 - 19.2 - 3.2 + 9.8 + 4.8 = 26, Sxx = 4.3 -> 6.04651 ms/s = 362.791 ms/min.
    Tempo drift: client bpm 60/0.55 = 109.0909, 60/0.53 = 113.2075, 60/0.49 = 122.4490 at beats 0.5, 2,
    2.5 s (mean x 1.66667): Sxy = 12.50403, Sxx = 2.16667 -> 5.77109 bpm/s = 346.263 bpm/min.
    """
    s = analyse(BEATS, HITS, Tolerance(ms=25))
    assert (s.n_beats, s.n_hits, s.matched, s.missed, s.extra) == (6, 6, 5, 1, 1)
    assert (s.start_s, s.end_s, s.beat_bpm) == (0.0, 2.5, pytest.approx(120.0))
    assert s.mean_asynchrony_ms == pytest.approx(6.0)
    assert s.sd_asynchrony_ms == pytest.approx(math.sqrt(430.0))
    assert s.sd_asynchrony_ms == pytest.approx(20.7364, abs=1e-4)
    assert s.iti_mean_ms == pytest.approx(523.3333, abs=1e-4)
    assert s.iti_cv == pytest.approx(0.058377, abs=1e-6)
    assert s.client_bpm == pytest.approx(114.650, abs=1e-3)
    assert s.resultant_length == pytest.approx(0.973024, abs=1e-6)
    assert s.mean_phase_deg == pytest.approx(4.3395, abs=1e-4)
    assert s.rayleigh_p == pytest.approx(0.0028244, abs=1e-7)
    assert s.pct_on_beat == pytest.approx(400.0 / 6.0)
    assert s.asynchrony_drift_ms_per_min == pytest.approx(362.791, abs=1e-3)
    assert s.tempo_drift_bpm_per_min == pytest.approx(346.263, abs=1e-3)


def test_tolerance_as_a_fraction_of_the_interval():
    """+-10 % of a 500 ms interval is +-50 ms: now the +30 ms hit is on the beat too, 5 of 6 beats."""
    s = analyse(BEATS, HITS, Tolerance(fraction_of_ioi=0.10))
    assert s.pct_on_beat == pytest.approx(500.0 / 6.0)
    assert s.tolerance == "±10% of the beat interval"


def test_the_nearer_hit_wins_whichever_comes_first():
    """Beat 1's window holds 0.44 (-60 ms) before 0.53 (+30 ms): the later, nearer one is matched."""
    m = match_hits([0.0, 0.5, 1.0], [0.44, 0.53])
    assert m.hit_index.tolist() == [-1, 1, -1]
    assert m.asynchrony_s[1] == pytest.approx(0.03)
    assert m.extra == 1


def test_a_hit_on_the_midpoint_belongs_to_the_later_beat():
    m = match_hits([0.0, 0.5, 1.0], [0.25])
    assert m.hit_index.tolist() == [-1, 0, -1]
    assert math.degrees(m.phase_rad[1]) == pytest.approx(-180.0)


def test_edge_windows_use_the_given_neighbours():
    """Mirrored, beat 1.0's window reaches 1.25 s; with the next beat at 1.2 s only 1.1 s, so 1.15 is out."""
    without = match_hits([0.0, 0.5, 1.0], [1.15])
    with_neighbour = match_hits([0.0, 0.5, 1.0], [1.15], next_beat=1.2)
    assert without.hit_index.tolist() == [-1, -1, 0]
    assert with_neighbour.hit_index.tolist() == [-1, -1, -1]


def test_phase_uses_the_interval_on_the_hits_side_of_the_beat():
    """Beats 0, 0.4, 1.2 (slowing): 40 ms late at 0.4 is 360*40/800 = 18 deg; early, 360*40/400 = 36."""
    late = match_hits([0.0, 0.4, 1.2], [0.44])
    early = match_hits([0.0, 0.4, 1.2], [0.36])
    assert math.degrees(late.phase_rad[1]) == pytest.approx(18.0)
    assert math.degrees(early.phase_rad[1]) == pytest.approx(-36.0)


def test_no_hits_gives_a_complete_summary_of_misses():
    s = analyse(BEATS, [])
    assert (s.matched, s.missed, s.extra, s.pct_on_beat) == (0, 6, 0, 0.0)
    assert s.mean_asynchrony_ms is None and s.resultant_length is None and s.iti_cv is None


def test_summary_is_json_ready():
    data = analyse(BEATS, HITS).as_dict()
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert list(data)[:3] == ["start_s", "end_s", "n_beats"]
    assert data["mean_asynchrony_ms"] == 6.0


@pytest.mark.parametrize(
    ("beats", "hits", "message"),
    [
        ([1.0], [], "at least 2 beats"),
        ([0.0, 0.5, 0.5], [], "strictly increasing"),
        ([0.0, float("nan")], [], "finite"),
        ([0.0, 0.5], [[0.1]], "flat sequence"),
    ],
)
def test_bad_input_is_refused_with_the_reason(beats, hits, message):
    with pytest.raises(ValueError, match=message):
        analyse(beats, hits)


@pytest.mark.parametrize(
    "kwargs", [{}, {"ms": 50, "fraction_of_ioi": 0.1}, {"ms": 0}, {"fraction_of_ioi": 0.5}]
)
def test_a_tolerance_is_one_positive_window(kwargs):
    with pytest.raises(ValueError):
        Tolerance(**kwargs)
