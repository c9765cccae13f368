"""The synth as one of the engine's sample sources, fed from the scheduler thread.

Why a feed: `Synth` belongs to the audio callback's thread, but song and groove notes are worked out in the
engine's scheduler thread a look-ahead in advance. The feed is a single-producer/single-consumer ring of
(stream sample, message) pairs, as the click renderer's schedule is: the scheduler thread writes a slot and
then publishes its index; the callback drains the ring into the synth at the start of each block and renders.
Nothing here takes a lock, and the callback side allocates no arrays.

Besides notes the ring carries cuts (`cut()`: every voice fades out within a few ms and queued notes are
forgotten: stop, flush, a new audio stream) in order with the notes, so notes queued after a cut still
play. The music fade is a `Fade` over stream samples, swapped in with one reference assignment and applied
to the synth's output per sample.
"""

from __future__ import annotations

import mido
import numpy as np
import numpy.typing as npt

from audio.fade import BlockGain, Fade
from audio.render import MAX_BLOCK
from audio.synth import Synth


class SynthFeed:
    """Mixes a `Synth` into the stream (the engine's `SampleSource`); `send`, `cut` and `fade` feed it."""

    def __init__(self, synth: Synth, *, capacity: int = 4096, max_block: int = MAX_BLOCK) -> None:
        self.synth = synth
        self._capacity = capacity
        self._frames = [0] * capacity
        self._messages: list[mido.Message | None] = [None] * capacity  # None marks a cut
        self._written = 0  # producer's index: slots before it are published
        self._read = 0  # consumer's index
        self._fade = Fade.constant(1.0)
        self._gain = BlockGain(max_block)
        self._max_block = max_block
        self._scratch = np.zeros(max_block, dtype=np.float32)
        self.dropped = 0
        """Events refused because the ring was full (the audio callback has stopped consuming)."""

    # --- producer (the scheduler thread) --------------------------------------------------------

    def send(self, frame: int, message: mido.Message) -> None:
        """Play `message` (note on/off, all-notes-off) at stream sample `frame`."""
        self._push(frame, message)

    def cut(self) -> None:
        """Fade out every voice now and forget the notes queued before this call."""
        self._push(0, None)

    def _push(self, frame: int, message: mido.Message | None) -> None:
        if self._written - self._read >= self._capacity:
            self.dropped += 1
            return
        slot = self._written % self._capacity
        self._frames[slot] = frame
        self._messages[slot] = message
        self._written += 1

    @property
    def fade(self) -> Fade:
        """The output gain over stream samples (constant 1 unless the music is fading)."""
        return self._fade

    @fade.setter
    def fade(self, fade: Fade) -> None:
        self._fade = fade

    # --- consumer (the audio callback) ----------------------------------------------------------

    def render(self, out: npt.NDArray[np.float32], start: int) -> None:
        """Add samples [start, start + len(out)) of the synth, faded, into the mono float32 block `out`."""
        synth, written = self.synth, self._written
        while self._read < written:
            slot = self._read % self._capacity
            message = self._messages[slot]
            if message is None:
                synth.all_notes_off()
            else:
                synth.send(self._frames[slot], message)
            self._read += 1
        fade = self._fade
        if fade.start_gain == fade.end_gain == 1.0:
            synth.render(out, start)
            return
        done = 0
        while done < len(out):
            size = min(self._max_block, len(out) - done)
            scratch = self._scratch[:size]
            scratch.fill(0.0)
            synth.render(scratch, start + done)
            self._gain.apply(scratch, start + done, fade)
            target = out[done : done + size]
            np.add(target, scratch, out=target)
            done += size
