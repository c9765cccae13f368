"""A small polyphonic synthesiser, so songs and grooves can play through the speaker without a MIDI device.

It runs inside the audio callback, where a late block is an audible glitch, so `render` allocates no arrays:
voices, the event queue, scratch buffers and the drum sounds are all made up front, and every numpy
operation writes into them (`out=`). Notes start on their exact sample: events carry absolute frame numbers
on the synth's own output clock (`Synth.frame` is the first frame of the next `render`), so an event may be
queued for a later block and still land on its sample, whatever the block sizes.

Sounds: melodic channels use a piano-like additive tone (four harmonics, pitch-dependent exponential decay);
channel 10 (index 9) plays drum sounds synthesised at start-up from noise and swept sines. Programs are
ignored: one clear timbre is what a cue needs.

Not thread-safe: one thread (the audio callback's) calls every method; the engine hands events over to it.
"""

from __future__ import annotations

import math

import mido
import numpy as np
import numpy.typing as npt

from audio.drum_sounds import DRUM_FOR_NOTE, Buffer, drum_sounds
from audio.grooves import DRUM_CHANNEL

HARMONICS = (1.0, 0.5, 0.25, 0.12)
ATTACK_SECONDS = 0.002
RELEASE_SECONDS = 0.08
"""Release after a note-off: long enough to avoid a click, short enough to keep the rhythm crisp."""
CUT_SECONDS = 0.005
"""Release after all-notes-off (stop, seek): a fast fade rather than a click."""
SILENT = math.log(1e4)
"""Envelope time constants until -80 dB, when a voice is silent and can be reused."""

_ON, _OFF, _ALL_OFF = 0, 1, 2
_TONE, _DRUM = 0, 1


class _Voice:
    """One sounding note; preallocated and reused, so starting a note creates no arrays."""

    __slots__ = (
        "active",
        "channel",
        "decay",
        "gain",
        "harmonics",
        "kind",
        "note",
        "release_at",
        "release_rate",
        "start",
        "step",
        "table",
        "until",
    )

    def __init__(self, empty_table: Buffer) -> None:
        self.active = False
        self.kind = _TONE
        self.channel = self.note = 0
        self.start = self.release_at = self.until = 0
        self.gain = self.step = self.decay = self.release_rate = 0.0
        self.harmonics = 0
        self.table = empty_table


class Synth:
    """Mixes notes into an output buffer at exact sample offsets; see the module docstring."""

    def __init__(
        self,
        samplerate: int = 48_000,
        *,
        voices: int = 32,
        max_block: int = 4096,
        queue_size: int = 1024,
        gain: float = 0.25,
    ) -> None:
        if samplerate <= 0 or voices <= 0 or max_block <= 0 or queue_size <= 0:
            raise ValueError("sample rate, voices, block size and queue size must be positive")
        self.samplerate = samplerate
        self.gain = gain
        self.frame = 0
        self.dropped_events = 0
        """Events refused because the queue was full (raise `queue_size` if this ever grows)."""
        self.late_events = 0
        """Events queued for a frame already rendered; they sound at the start of the next block."""
        self.stolen_voices = 0
        """Notes cut short because every voice was busy (raise `voices` if this grows)."""

        self._max_block = max_block
        self._ramp = np.arange(max_block, dtype=np.float64)
        self._mix = np.zeros(max_block)
        self._mix32 = np.zeros(max_block, dtype=np.float32)
        self._voice_out = np.zeros(max_block)
        self._scratch = np.zeros(max_block)
        self._age = np.zeros(max_block)

        self._drums = drum_sounds(samplerate)
        self._drum_for_note = [DRUM_FOR_NOTE.get(note, "wood block") for note in range(128)]
        self._voices = [_Voice(self._drums["wood block"]) for _ in range(voices)]

        self._q_frame = [0] * queue_size
        self._q_kind = [0] * queue_size
        self._q_channel = [0] * queue_size
        self._q_note = [0] * queue_size
        self._q_velocity = [0] * queue_size
        self._q_head = self._q_count = 0

    def note_on(self, at_frame: int, note: int, velocity: int, channel: int = 0) -> None:
        """Start `note` at sample `at_frame` of the output clock (velocity 0 means note-off, as in MIDI)."""
        self._enqueue(at_frame, _ON if velocity > 0 else _OFF, channel, note, velocity)

    def note_off(self, at_frame: int, note: int, channel: int = 0) -> None:
        """Release `note` at `at_frame` (drum sounds always play out)."""
        self._enqueue(at_frame, _OFF, channel, note, 0)

    def send(self, at_frame: int, message: mido.Message) -> None:
        """Play a mido message at `at_frame`: notes, and all-notes-off / all-sound-off controllers."""
        if message.type == "note_on":
            self.note_on(at_frame, message.note, message.velocity, message.channel)
        elif message.type == "note_off":
            self.note_off(at_frame, message.note, message.channel)
        elif message.type == "control_change" and message.control in (120, 123):
            self._enqueue(at_frame, _ALL_OFF, message.channel, 0, 0)

    def all_notes_off(self) -> None:
        """Now: fade out every voice within a few milliseconds and forget queued events (stop, seek)."""
        self._q_head = self._q_count = 0
        for voice in self._voices:
            if voice.active:
                self._release(voice, self.frame, CUT_SECONDS)

    def _silence(self) -> None:
        self._q_head = self._q_count = 0
        for voice in self._voices:
            voice.active = False

    @property
    def active_voices(self) -> int:
        return sum(voice.active for voice in self._voices)

    def render(self, out: npt.NDArray[np.floating], start: int | None = None) -> None:
        """Mix frames [start, start + len(out)) into `out` (frames x channels, or mono), adding to it.

        `start` is the stream's sample index (the engine's `SampleSource` protocol); None continues from
        the last block. After a gap (an xrun) notes carry on where they would be; an index that goes back
        means a new stream, which starts in silence. `out` must be float32 or float64; every channel gets
        the same (mono) signal.
        """
        if out.dtype not in (np.float32, np.float64):
            raise TypeError(f"render into float32 or float64 buffers, not {out.dtype}")
        if start is not None:
            if start < self.frame:
                self._silence()
            self.frame = start
        frames = out.shape[0]
        done = 0
        while done < frames:
            size = min(self._max_block, frames - done)
            self._render_block(out[done : done + size], size)
            done += size

    def _render_block(self, out: npt.NDArray[np.floating], size: int) -> None:
        start = self.frame
        mix = self._mix[:size]
        mix.fill(0.0)
        self._apply_events_before(start + size)
        for voice in self._voices:
            if voice.active:
                self._render_voice(voice, start, size)
                if voice.until <= start + size:
                    voice.active = False
        # Same-dtype, per-column adds: mixed dtypes or broadcasting would make numpy allocate buffers.
        mixed: npt.NDArray[np.floating] = mix
        if out.dtype == np.float32:
            mixed = self._mix32[:size]
            np.copyto(mixed, mix, casting="same_kind")
        if out.ndim == 1:
            np.add(out, mixed, out=out)
        else:
            for channel in range(out.shape[1]):
                column = out[:, channel]
                np.add(column, mixed, out=column)
        self.frame = start + size

    def _render_voice(self, voice: _Voice, start: int, size: int) -> None:
        offset = max(0, voice.start - start)
        count = min(size, voice.until - start) - offset  # silent from `until`, whatever the block sizes
        if count <= 0:
            return
        age = self._age[:count]
        np.add(self._ramp[:count], float(start + offset - voice.start), out=age)
        sound = self._voice_out[:count]
        tmp = self._scratch[:count]
        if voice.kind == _DRUM:
            first = start + offset - voice.start
            count = min(count, len(voice.table) - first)
            if count <= 0:
                return
            age, sound, tmp = age[:count], sound[:count], tmp[:count]
            np.copyto(sound, voice.table[first : first + count])
        else:
            self._tone(voice, age, sound, tmp)
        if voice.release_at >= 0:
            np.subtract(age, float(voice.release_at - voice.start), out=tmp)
            np.maximum(tmp, 0.0, out=tmp)
            np.multiply(tmp, -voice.release_rate, out=tmp)
            np.exp(tmp, out=tmp)
            np.multiply(sound, tmp, out=sound)
        np.multiply(sound, voice.gain, out=sound)
        mix = self._mix[offset : offset + count]
        np.add(mix, sound, out=mix)

    def _tone(self, voice: _Voice, age: Buffer, sound: Buffer, tmp: Buffer) -> None:
        """Additive tone with attack and exponential decay, written into `sound`."""
        np.multiply(age, voice.step, out=sound)
        np.cos(sound, out=sound)
        for number in range(2, voice.harmonics + 1):
            np.multiply(age, voice.step * number, out=tmp)
            np.cos(tmp, out=tmp)
            np.multiply(tmp, HARMONICS[number - 1], out=tmp)
            np.add(sound, tmp, out=sound)
        np.multiply(age, -voice.decay, out=tmp)
        np.exp(tmp, out=tmp)
        np.multiply(sound, tmp, out=sound)
        attack = ATTACK_SECONDS * self.samplerate
        if age[0] < attack:
            np.add(age, 1.0, out=tmp)
            np.multiply(tmp, 1.0 / attack, out=tmp)
            np.minimum(tmp, 1.0, out=tmp)
            np.multiply(sound, tmp, out=sound)

    def _enqueue(self, frame: int, kind: int, channel: int, note: int, velocity: int) -> None:
        """Insert in frame order (stable: equal frames keep the order they were sent in)."""
        if self._q_count == len(self._q_frame) and self._q_head:
            self._compact_queue()
        if self._q_count == len(self._q_frame):
            self.dropped_events += 1
            return
        if frame < self.frame:
            self.late_events += 1
            frame = self.frame
        slot = self._q_count
        while slot > self._q_head and self._q_frame[slot - 1] > frame:
            self._q_frame[slot] = self._q_frame[slot - 1]
            self._q_kind[slot] = self._q_kind[slot - 1]
            self._q_channel[slot] = self._q_channel[slot - 1]
            self._q_note[slot] = self._q_note[slot - 1]
            self._q_velocity[slot] = self._q_velocity[slot - 1]
            slot -= 1
        self._q_frame[slot], self._q_kind[slot], self._q_channel[slot] = frame, kind, channel
        self._q_note[slot], self._q_velocity[slot] = note, velocity
        self._q_count += 1

    def _compact_queue(self) -> None:
        head = self._q_head
        for slot in range(self._q_count - head):
            self._q_frame[slot] = self._q_frame[slot + head]
            self._q_kind[slot] = self._q_kind[slot + head]
            self._q_channel[slot] = self._q_channel[slot + head]
            self._q_note[slot] = self._q_note[slot + head]
            self._q_velocity[slot] = self._q_velocity[slot + head]
        self._q_count -= head
        self._q_head = 0

    def _apply_events_before(self, end: int) -> None:
        while self._q_head < self._q_count and self._q_frame[self._q_head] < end:
            i = self._q_head
            frame, kind, channel = self._q_frame[i], self._q_kind[i], self._q_channel[i]
            if kind == _ON:
                self._start(self._free_voice(), frame, channel, self._q_note[i], self._q_velocity[i])
            else:
                for voice in self._voices:
                    if (
                        voice.active
                        and voice.release_at < 0
                        and voice.start <= frame
                        and voice.channel == channel
                        and (kind == _ALL_OFF or (voice.note == self._q_note[i] and voice.kind == _TONE))
                    ):
                        self._release(voice, frame, CUT_SECONDS if kind == _ALL_OFF else RELEASE_SECONDS)
            self._q_head += 1
        if self._q_head == self._q_count:
            self._q_head = self._q_count = 0

    def _free_voice(self) -> _Voice:
        """An idle voice, else the one released longest ago, else the oldest (counted as stolen)."""
        best = self._voices[0]
        for voice in self._voices:
            if not voice.active:
                return voice
            if (voice.release_at >= 0, -voice.start) > (best.release_at >= 0, -best.start):
                best = voice
        self.stolen_voices += 1
        return best

    def _start(self, voice: _Voice, frame: int, channel: int, note: int, velocity: int) -> None:
        voice.active = True
        voice.channel, voice.note, voice.start, voice.release_at = channel, note, frame, -1
        voice.gain = self.gain * (velocity / 127) ** 2
        if channel == DRUM_CHANNEL:
            voice.kind = _DRUM
            voice.table = self._drums[self._drum_for_note[note]]
            voice.until = frame + len(voice.table)
            return
        voice.kind = _TONE
        frequency = 440.0 * 2 ** ((note - 69) / 12)
        voice.step = 2 * math.pi * frequency / self.samplerate
        voice.harmonics = sum(
            1 for n in range(1, len(HARMONICS) + 1) if n * frequency < 0.45 * self.samplerate
        )
        decay_seconds = min(4.0, max(0.35, 1.6 * 2 ** (-(note - 60) / 24)))
        voice.decay = 1.0 / (decay_seconds * self.samplerate)
        voice.gain /= sum(HARMONICS[: voice.harmonics])
        voice.until = frame + math.ceil(SILENT * decay_seconds * self.samplerate)

    def _release(self, voice: _Voice, frame: int, seconds: float) -> None:
        voice.release_at = max(frame, voice.start)
        voice.release_rate = 1.0 / (seconds * self.samplerate)
        voice.until = min(voice.until, voice.release_at + math.ceil(SILENT * seconds * self.samplerate))
