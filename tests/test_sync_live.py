"""Live synchronisation: per-hit feedback, beats closing on time, block summaries equal to the batch ones."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.tappings import Tapping, tappings

from audio.live_sync import LiveSync
from audio.sync_analysis import Tolerance, analyse


def _play(live: LiveSync, beats, hits):
    """Hits in time order with the clock ticking before each one, then the clock runs on past the end."""
    live.add_beats(beats)
    feedback, outcomes, blocks = [], [], []
    for hit in sorted(hits):
        closed = live.close_until(hit)
        outcomes += closed.beats
        blocks += closed.blocks
        feedback.append(live.add_hit(hit))
    closed = live.close_until(math.inf)
    return feedback, outcomes + list(closed.beats), blocks + list(closed.blocks)


@given(tappings(), st.integers(2, 10))
@settings(max_examples=150, deadline=None)
def test_live_block_summaries_equal_the_batch_analysis(tap: Tapping, block_beats: int):
    live = LiveSync(block_beats=block_beats, tolerance=Tolerance(ms=40), grace_s=0.0)
    _, outcomes, blocks = _play(live, tap.beats, tap.hits)
    beats = list(tap.beats)
    expected = []
    for first in range(0, len(beats) - block_beats + 1, block_beats):
        last = first + block_beats - 1
        expected.append(
            analyse(
                beats[first : last + 1],
                tap.hits,
                Tolerance(ms=40),
                prev_beat=beats[first - 1] if first else None,
                next_beat=beats[last + 1] if last + 1 < len(beats) else None,
            )
        )
    assert blocks == expected
    assert [o.index for o in outcomes] == list(range(len(beats)))
    assert [o.asynchrony_ms is None for o in outcomes] == [f is None for f in tap.fractions]


def test_feedback_for_each_hit():
    live = LiveSync(block_beats=4, tolerance=Tolerance(ms=25))
    live.add_beats([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5])
    early = live.add_hit(-0.020)
    late = live.add_hit(0.530)
    extra = live.add_hit(0.560)
    assert (early.beat_index, early.asynchrony_ms, early.on_beat, early.extra) == (
        0,
        pytest.approx(-20),
        True,
        False,
    )
    assert (late.beat_index, late.on_beat, late.pct_on_beat) == (1, False, 50.0)
    assert (extra.beat_index, extra.extra, extra.on_beat) == (1, True, False)
    # Beat 2 missed; beat 3 on time: 2 of the block's 4 beats so far.
    assert live.add_hit(1.505).pct_on_beat == 50.0
    # Beat 4 starts the second block: its running percentage starts afresh.
    assert live.add_hit(2.0).pct_on_beat == 100.0


def test_a_nearer_second_hit_takes_over_the_beat():
    live = LiveSync(block_beats=2, tolerance=Tolerance(ms=25))
    live.add_beats([0.0, 0.5, 1.0])
    assert live.add_hit(0.44).on_beat is False
    second = live.add_hit(0.51)
    assert (second.extra, second.on_beat, second.pct_on_beat) == (False, True, 50.0)
    block = live.close_until(10.0).blocks[0]
    assert (block.matched, block.extra, block.mean_asynchrony_ms) == (1, 1, pytest.approx(10.0))


def test_beats_close_only_after_their_window_and_the_grace_time():
    live = LiveSync(block_beats=2, grace_s=0.1)
    live.add_beats([0.0, 0.5, 1.0])
    assert live.close_until(0.34).beats == ()  # beat 0's window ends at 0.25, + grace 0.1
    closed = live.close_until(0.35)
    assert [b.index for b in closed.beats] == [0]
    assert closed.blocks == ()
    late_for_beat_0 = live.add_hit(0.2)
    assert late_for_beat_0.beat_index is None
    closed = live.close_until(0.85)
    assert [b.index for b in closed.beats] == [1]
    assert [b.n_beats for b in closed.blocks] == [2]


def test_the_last_announced_beat_waits_for_the_next_one_or_its_mirrored_window():
    live = LiveSync(block_beats=4, grace_s=0.0)
    live.add_beats([0.0, 0.5])
    assert [b.index for b in live.close_until(0.7).beats] == [0]
    live.add_beats([0.5, 0.9])  # re-sent overlap is ignored; the next beat narrows beat 1's window
    assert [b.index for b in live.close_until(0.7).beats] == [1]


def test_beat_outcomes_carry_what_the_adaptive_policy_needs():
    live = LiveSync(block_beats=8)
    live.add_beats([0.0, 0.6, 1.2, 1.8])
    for hit in (0.03, 0.57, 1.2):
        live.add_hit(hit)
    outcomes = live.close_until(5.0).beats
    assert [o.iti_ms for o in outcomes[:3]] == [None, pytest.approx(540), pytest.approx(630)]
    assert outcomes[1].phase_deg == pytest.approx(-18.0)
    assert outcomes[0].ioi_s == pytest.approx(0.6)
    assert outcomes[3].asynchrony_ms is None and outcomes[3].on_beat is False


def test_finish_summarises_the_unfinished_block():
    live = LiveSync(block_beats=16)
    live.add_beats(np.arange(20) * 0.5)
    for t in (0.01, 0.49, 1.02):
        live.add_hit(t)
    summary = live.finish(1.2)
    assert summary is not None
    assert (summary.n_beats, summary.matched, summary.missed) == (3, 3, 0)
    assert live.finish(1.2) is None  # nothing left before 1.2 s


def test_a_block_needs_two_beats():
    with pytest.raises(ValueError, match="at least 2 beats"):
        LiveSync(block_beats=1)
