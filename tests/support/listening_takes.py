"""A played block on JACK with known asynchronies: the metronome runs, a drum client in another process
plays each hit at the frame of its intended time (`support.hit_sender`), `MidiInput` hears it and
`SyncSession` logs the block. The expected figures are worked out from the offsets themselves, not by the
analysis under test. Shared by the listening tests on JACK and `benchmarks/analysis.py`.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from dataclasses import dataclass
from fractions import Fraction

from audio.engine_client import RemoteMetronome
from audio.engine_config import AudioConfig, MidiConfig
from audio.midi_hits import Hit
from audio.midi_input import MidiInput
from audio.sync_analysis import Tolerance
from audio.tempo import TempoSettings
from companion.live.listening import SyncSession, SyncSettings
from companion.live.listening_record import BlockReport, LogTarget
from support.hit_sender import HitSender

JACK = "mido.backends.rtmidi/UNIX_JACK"
TOLERANCE_MS = 50.0
DRUM = 38


def known_offsets(beats: int, seed: int = 7) -> tuple[list[float | None], dict[int, float]]:
    """Per-beat offsets in ms (None = missed): -30, +20, then jitter within +-40 ms, beat 4 missed and
    beat 7 at +70 ms (outside the window); plus one extra hit after beat 3, farther than its own hit."""
    rng = random.Random(seed)
    offsets: list[float | None] = [-30.0, 20.0, *(round(rng.uniform(-40, 40), 1) for _ in range(beats - 2))]
    offsets[4], offsets[7] = None, 70.0
    offset_3 = offsets[3]
    assert offset_3 is not None
    extras = {3: offset_3 + 160.0 if offset_3 >= 0 else offset_3 - 160.0}
    return offsets, extras


@dataclass(frozen=True)
class Expected:
    mean_ms: float
    sd_ms: float
    pct_within: float
    missed: int
    extra: int


def expected_figures(offsets: list[float | None], extras: dict[int, float]) -> Expected:
    hit = [o for o in offsets if o is not None]
    within = sum(abs(o) <= TOLERANCE_MS for o in hit)
    return Expected(
        mean_ms=statistics.fmean(hit),
        sd_ms=statistics.stdev(hit),
        pct_within=100.0 * within / len(offsets),
        missed=len(offsets) - len(hit),
        extra=len(extras),
    )


@dataclass
class Take:
    """One played block: engine-clock times of each note as intended, as played and as heard (sorted)."""

    reports: list[BlockReport]
    intended: list[float]
    played: list[float]
    heard: list[float]
    xruns: int

    @property
    def clean(self) -> bool:
        """Every note heard and no JACK xrun: otherwise a note may have been dropped by JACK."""
        return self.xruns == 0 and len(self.heard) == len(self.intended)

    def trouble(self) -> str:
        return f"{self.xruns} JACK xruns, {len(self.heard)} of {len(self.intended)} hits heard"

    @property
    def played_ms(self) -> list[float]:
        """Played minus intended: the drum's quantisation to whole frames."""
        return [(p - i) * 1000 for p, i in zip(self.played, self.intended, strict=True)]

    @property
    def heard_ms(self) -> list[float]:
        """Heard minus played: MidiInput's timestamp error."""
        return [(h - p) * 1000 for h, p in zip(self.heard, self.played, strict=False)]

    @property
    def offset_error_ms(self) -> list[float]:
        """Heard minus intended: the error against the known offsets, everything included."""
        return [(h - i) * 1000 for h, i in zip(self.heard, self.intended, strict=False)]


def play_take(
    server: str,
    target: LogTarget | None,
    offsets: list[float | None],
    extras: dict[int, float],
    bpm: int = 120,
    label: str = "e2e",
    audio: bool = False,
) -> Take:
    """One metronome run of len(offsets) beats, a block of that length, played by a JACK drum client.

    With `audio` the metronome also plays through PortAudio on JACK, whose sample clock then places the
    beats (the engine follows the sound card's clock): the offsets are from those beats."""
    block = len(offsets)
    metronome = RemoteMetronome(
        TempoSettings(bpm=Fraction(bpm)),
        audio=AudioConfig() if audio else None,
        midi=MidiConfig(virtual=f"{label}-click", backend=JACK),
    )
    assert metronome.open() == []
    reports: list[BlockReport] = []
    heard: list[float] = []
    blocked = threading.Event()

    def on_block(report: BlockReport) -> None:
        reports.append(report)
        blocked.set()

    sender = HitSender(server, f"{label}-drum")
    sync = SyncSession(
        metronome,
        SyncSettings(block_beats=block, tolerance=Tolerance(ms=TOLERANCE_MS)),
        target=target,
        on_block=on_block,
    )

    def on_hit(hit: Hit) -> None:
        heard.append(hit.time_s)
        sync.hit(hit)

    try:
        with sync, MidiInput(sender.port_name, backend=JACK, client_name=f"{label}-in", on_hit=on_hit):
            time.sleep(0.3)  # let the JACK graph settle after the new clients joined
            metronome.start(at=time.perf_counter() + 0.6)
            beats = [metronome.time_of(b) for b in range(block)]
            intended = [
                beats[k] + offset / 1000  # type: ignore[operator]
                for k, offset in [*enumerate(offsets), *extras.items()]
                if offset is not None
            ]
            played = sender.play_at([(t, DRUM, 100) for t in intended])
            blocked.wait(timeout=10)
            metronome.stop()
    finally:
        metronome.close()
        sender.close()
    order = sorted(range(len(intended)), key=intended.__getitem__)
    return Take(
        reports,
        [intended[i] for i in order],
        [played.times[i] for i in order],
        sorted(heard),
        played.xruns,
    )
