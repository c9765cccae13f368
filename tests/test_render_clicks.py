"""The block renderer: every click onset on its exact sample, whatever the block sizes."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audio.render import ClickRenderer, ScheduleFull, sample_at
from audio.sounds import DEFAULT_VOICES, Sound, SoundBank, Voice, synthesize
from audio.tempo import Level, TempoSettings, TimeSignature
from audio.tempo_map import TempoMap

RATE = 48_000


def render_stream(renderer: ClickRenderer, total: int, block_sizes: list[int]) -> np.ndarray:
    out = np.zeros(total, dtype=np.float32)
    start = 0
    for size in itertools.cycle(block_sizes):
        if start >= total:
            break
        block = np.zeros(min(size, total - start), dtype=np.float32)
        renderer.render(block, start)
        out[start : start + len(block)] = block
        start += len(block)
    return out


def reference_mix(bank: SoundBank, schedule: list[tuple[int, int]], total: int) -> np.ndarray:
    out = np.zeros(total, dtype=np.float32)
    for position, sound_id in schedule:
        sound = bank.arrays[sound_id][: max(0, total - position)]
        out[position : position + len(sound)] += sound
    return out


def onsets(signal: np.ndarray, gap: int) -> list[int]:
    """Indices where sound starts after at least `gap` silent samples."""
    loud = np.flatnonzero(np.abs(signal) > 1e-6)
    return [int(i) for k, i in enumerate(loud) if k == 0 or i - loud[k - 1] > gap]


def test_every_sound_starts_at_full_level_on_its_first_sample():
    for sound in Sound:
        wave = synthesize(sound, RATE)
        assert wave.dtype == np.float32
        assert abs(wave[0]) == pytest.approx(np.max(np.abs(wave)), rel=0.05)
        assert np.max(np.abs(wave)) == pytest.approx(1.0)


def test_bank_applies_volume_and_silences_the_silent_level():
    bank = SoundBank(RATE, {Level.ACCENT: Voice(Sound.COWBELL, 0.5), Level.BEAT: Voice(Sound.RIM, 0.25)})
    assert np.max(np.abs(bank.arrays[bank.index(Level.ACCENT)])) == pytest.approx(0.5)
    assert np.max(np.abs(bank.arrays[bank.index(Level.BEAT)])) == pytest.approx(0.25)
    assert len(bank.arrays[bank.index(Level.SILENT)]) == 0
    assert len(bank.arrays[bank.index(Level.SUB)]) == 0
    with pytest.raises(ValueError, match=r"volume 1\.5"):
        Voice(Sound.BEEP, 1.5)


@settings(max_examples=60, deadline=None)
@given(
    bpm=st.integers(20, 300),
    subdivision=st.integers(1, 4),
    swing=st.fractions(0, Fraction(1, 2)),
    origin=st.integers(0, 5_000),
    blocks=st.lists(st.integers(1, 3_000), min_size=1, max_size=20),
)
def test_random_block_sizes_put_every_onset_on_its_exact_sample(bpm, subdivision, swing, origin, blocks):
    tempo = TempoMap(TempoSettings(bpm=bpm, meter=TimeSignature(3, 4), subdivision=subdivision, swing=swing))
    bank = SoundBank(RATE)
    renderer = ClickRenderer(bank.arrays)
    total = RATE * 2
    schedule = []
    for click in tempo.clicks(0):
        position = origin + sample_at(click.time_s, RATE)
        if position >= total:
            break
        schedule.append((position, bank.index(click.level)))
        renderer.schedule(position, bank.index(click.level))
    rendered = render_stream(renderer, total, blocks)
    np.testing.assert_array_equal(rendered, reference_mix(bank, schedule, total))
    for position, sound_id in schedule:
        assert rendered[position] != 0 or len(bank.arrays[sound_id]) == 0
    assert renderer.late == 0


def test_isolated_onsets_sit_exactly_on_the_tempo_map_samples():
    tempo = TempoMap(TempoSettings(bpm=97, meter=TimeSignature(4, 4)))
    bank = SoundBank(RATE, DEFAULT_VOICES)
    renderer = ClickRenderer(bank.arrays)
    expected = [1_000 + sample_at(c.time_s, RATE) for c in itertools.islice(tempo.clicks(0), 40)]
    for position, click in zip(expected, tempo.clicks(0), strict=False):
        renderer.schedule(position, bank.index(click.level))
    rng = np.random.default_rng(1)
    rendered = render_stream(renderer, expected[-1] + RATE, list(rng.integers(1, 1024, 500)))
    assert onsets(rendered, gap=100) == expected
    intervals = np.diff(expected)
    assert set(intervals) <= {29_690, 29_691}  # 60/97 s = 29,690.72 samples, rounded from the origin
    assert expected[-1] - expected[0] == sample_at(Fraction(39 * 60, 97), RATE)


def test_a_click_straddling_blocks_and_overlapping_clicks_mix_exactly():
    bank = SoundBank(RATE)
    renderer = ClickRenderer(bank.arrays)
    accent = bank.index(Level.ACCENT)
    schedule = [(100, accent), (130, accent), (5_000, bank.index(Level.SUB))]
    for item in schedule:
        renderer.schedule(*item)
    rendered = render_stream(renderer, 10_000, [128])
    np.testing.assert_array_equal(rendered, reference_mix(bank, schedule, 10_000))


def test_late_clicks_are_counted_and_dropped_never_heard_late():
    """A click whose onset passed before it was first rendered (lost audio cycles) is not played: its tail
    would sound like a late click. The next click plays on its exact sample."""
    bank = SoundBank(RATE)
    renderer = ClickRenderer(bank.arrays)
    sound = bank.arrays[bank.index(Level.BEAT)]
    block = np.zeros(256, dtype=np.float32)
    renderer.render(block, 0)
    renderer.schedule(200, bank.index(Level.BEAT))
    renderer.schedule(600, bank.index(Level.BEAT))
    block[:] = 0
    renderer.render(block, 256)
    assert renderer.late == 1
    np.testing.assert_array_equal(block, np.zeros(256, dtype=np.float32))
    renderer.render(block, 512)
    np.testing.assert_array_equal(block[88:], sound[: 256 - 88])
    assert not block[:88].any()


def test_a_click_sounding_across_lost_cycles_is_cut_there_not_resumed_after_them():
    bank = SoundBank(RATE)
    renderer = ClickRenderer(bank.arrays)
    sound = bank.arrays[bank.index(Level.ACCENT)]
    assert len(sound) > 1_000
    renderer.schedule(100, bank.index(Level.ACCENT))
    renderer.schedule(1_000, bank.index(Level.ACCENT))
    block = np.zeros(128, dtype=np.float32)
    renderer.render(block, 0)
    np.testing.assert_array_equal(block[100:], sound[:28])
    block[:] = 0
    renderer.render(block, 512)  # the stream lost samples 128-511: the first click is not resumed
    assert not block.any() and renderer.late == 0
    block[:] = 0
    renderer.render(block, 1_000)  # the next click is on its sample
    np.testing.assert_array_equal(block, sound[:128])


def test_clear_pending_silences_scheduled_and_sounding_clicks():
    bank = SoundBank(RATE)
    renderer = ClickRenderer(bank.arrays)
    renderer.schedule(0, bank.index(Level.ACCENT))
    renderer.schedule(1_000, bank.index(Level.ACCENT))
    block = np.zeros(128, dtype=np.float32)
    renderer.render(block, 0)
    assert block[0] != 0
    renderer.clear_pending()
    assert renderer.pending == 0
    block[:] = 0
    renderer.render(block, 128)
    rendered = render_stream(renderer, 3_000, [128])
    assert not block.any() and not rendered.any()


def test_a_full_schedule_says_the_stream_is_not_consuming():
    renderer = ClickRenderer(SoundBank(RATE).arrays, capacity=4)
    for k in range(4):
        renderer.schedule(k, 0)
    with pytest.raises(ScheduleFull, match="4 clicks pending"):
        renderer.schedule(5, 0)


def test_sample_at_rounds_exact_times_half_up():
    assert sample_at(Fraction(1, 96_000), RATE) == 1
    assert sample_at(Fraction(1, 96_001), RATE) == 0
    assert sample_at(Fraction(3600), RATE) == 172_800_000
