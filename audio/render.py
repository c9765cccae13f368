"""Pure block rendering: one-shot sounds mixed into output blocks at exact sample positions.

Why a separate, pure module: the audio callback must only index preallocated arrays. Everything here works
on arrays made in advance, takes no lock and builds no array, and is tested without any audio device by
rendering blocks of random sizes and checking that every onset lands on its sample.

The schedule is a single-producer/single-consumer ring: the engine's planner thread appends (position,
sound) pairs in time order; the audio callback reads them. Each side writes only its own index, and an
index is published after its slot is written, so no lock is needed under CPython.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Protocol

import numpy as np


class SampleSource(Protocol):
    """Anything that adds sound into the output stream (clicks now; a synth for songs later).

    `render` must add (not overwrite) samples [start, start + len(out)) of the stream into `out`, a mono
    float32 block, without allocating arrays, taking locks or blocking.
    """

    def render(self, out: np.ndarray, start: int) -> None: ...


MAX_BLOCK = 16_384
"""Outputs mix their sources in blocks of at most this many frames (buffers are made once, this size)."""


def mix_sources(mix: np.ndarray, sources: Sequence[SampleSource], start: int, frames: int) -> np.ndarray:
    """Stream samples [start, start + frames) of every source, summed and clipped, in `mix[:frames]`
    (frames <= len(mix)): what an output's callback plays, allocating nothing."""
    block = mix[:frames]
    block.fill(0.0)
    for source in sources:
        source.render(block, start)
    np.clip(block, -1.0, 1.0, out=block)
    return block


def sample_at(seconds: Fraction, samplerate: int) -> int:
    """The stream sample nearest an exact time (halves round up), so onsets never depend on float error."""
    return math.floor(seconds * samplerate + Fraction(1, 2))


class ScheduleFull(RuntimeError):
    """The planner got too far ahead of the audio callback (the stream has stalled)."""


class ClickRenderer:
    """Mixes scheduled one-shots (sample position, sound id) into blocks; sounds may straddle blocks."""

    def __init__(self, sounds: list[np.ndarray], capacity: int = 4096) -> None:
        self._sounds = sounds
        self._lengths = np.array([len(s) for s in sounds], dtype=np.int64)
        self._capacity = capacity
        self._positions = np.zeros(capacity, dtype=np.int64)
        self._ids = np.zeros(capacity, dtype=np.int64)
        self._gains = np.ones(capacity, dtype=np.float32)
        self._dropped = np.zeros(capacity, dtype=bool)
        self._scratch = self._scratch_for(sounds)
        self._written = 0  # producer's index: slots before it are published
        self._finished = 0  # consumer's index: slots before it have played out completely
        self._drop_before = 0  # producer's request: the consumer skips slots before it
        self.late = 0
        """Clicks whose first sample was already past when first rendered (after lost audio cycles): they
        are dropped, since their tail heard late would sound like a late click."""
        self._seen = 0
        self._rendered_until = 0
        """The stream sample after the last block rendered: a later start means lost cycles, and a click
        sounding across them is cut there (its rest would start after silence, as a late click)."""

    @staticmethod
    def _scratch_for(sounds: list[np.ndarray], current: np.ndarray | None = None) -> np.ndarray:
        """A buffer for one scaled sound, never shrinking, so a render reading the old one stays in bounds."""
        longest = max((len(s) for s in sounds), default=0)
        if current is not None and len(current) >= longest:
            return current
        return np.zeros(longest, dtype=sounds[0].dtype if sounds else np.float32)

    def set_sounds(self, sounds: list[np.ndarray]) -> None:
        """Swap the sound arrays (e.g. new volumes) with one reference assignment; ids must stay valid."""
        self._scratch = self._scratch_for(sounds, self._scratch)
        self._lengths = np.array([len(s) for s in sounds], dtype=np.int64)
        self._sounds = sounds

    def schedule(self, position: int, sound_id: int, gain: float = 1.0) -> None:
        """Producer side: play sound `sound_id` from stream sample `position` (non-decreasing order), scaled
        by `gain` (a click fading out)."""
        if self.pending >= self._capacity:
            raise ScheduleFull(f"{self._capacity} clicks pending: the audio stream is not consuming them")
        slot = self._written % self._capacity
        self._positions[slot] = position
        self._ids[slot] = sound_id
        self._gains[slot] = gain
        self._written += 1

    @property
    def pending(self) -> int:
        return self._written - max(self._finished, self._drop_before)

    def clear_pending(self) -> None:
        """Producer side: drop every click scheduled so far, even one already sounding (on stop)."""
        self._drop_before = self._written

    def render(self, out: np.ndarray, start: int) -> None:
        """Consumer side (the audio callback): add every click sounding in [start, start + len(out))."""
        end = start + len(out)
        written = self._written
        sounds, lengths = self._sounds, self._lengths
        positions, ids, gains, capacity = self._positions, self._ids, self._gains, self._capacity
        scratch = self._scratch
        finished = max(self._finished, self._drop_before)
        self._seen = max(self._seen, finished)
        gap, self._rendered_until = start > self._rendered_until > 0, end
        all_done = True
        i = finished
        while i < written:
            slot = i % capacity
            position = int(positions[slot])
            if position >= end:
                break
            sound_id = int(ids[slot])
            stop = position + int(lengths[sound_id])
            if i >= self._seen:
                self._seen = i + 1
                self._dropped[slot] = late = position < start
                self.late += late
            elif gap and position < start:
                self._dropped[slot] = True
            if stop > start and not self._dropped[slot]:
                first = max(position, start)
                last = min(stop, end)
                target = out[first - start : last - start]
                sound = sounds[sound_id][first - position : last - position]
                gain = gains[slot]
                if gain != 1.0:
                    sound = np.multiply(sound, gain, out=scratch[: last - first])
                np.add(target, sound, out=target)
            if stop > end:
                all_done = False
            elif all_done:
                finished = i + 1
            i += 1
        self._finished = finished
