"""End to end on JACK: a second client plays the drum with known asynchronies while the metronome runs;
the figures logged in the session record must be the ones the offsets imply, within 1 ms.

Everything is real: the metronome plays MIDI on the session's JACK server from the engine's own process
(`RemoteMetronome`, as the app runs it), `MidiInput` listens through its JACK reader, `SyncSession` logs to
a SQLite file, and the drum is a JACK client in another process (`HitSender.play_at`) writing each note at
the frame of its engine-clock time. The expected figures are computed here from the offsets themselves,
not by the analysis under test. The drum is the witness: a take in which JACK had an xrun (a note may be
dropped or moved) or a hit went unheard is played again, and the test fails if no take is clean.

`benchmarks/analysis.py` runs the same take (`play_take`) and reports the timestamp error.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from engine_takes import ATTEMPTS, judge_or_retake, never_clean, retake_after
from test_midi_input_sender import HitSender

from audio.cadence import AdaptiveMode, AdaptiveSettings, AdaptiveState
from audio.engine import AudioConfig, MidiConfig
from audio.engine_client import RemoteMetronome
from audio.midi_input import Hit, MidiInput
from audio.sync_analysis import Tolerance
from audio.tempo import TempoSettings
from companion.live.listening import BlockReport, ListeningState, LogTarget, SyncSession, SyncSettings
from companion.record import Record, Sync, Tempo

pytestmark = pytest.mark.jack

JACK = "mido.backends.rtmidi/UNIX_JACK"
TOLERANCE_MS = 50.0
DRUM = 38


def known_offsets(beats: int, seed: int = 7) -> tuple[list[float | None], dict[int, float]]:
    """Per-beat offsets in ms (None = missed): -30, +20, then jitter within +-40 ms, beat 4 missed and
    beat 7 at +70 ms (outside the window); plus one extra hit after beat 3, farther than its own hit."""
    rng = random.Random(seed)
    offsets: list[float | None] = [-30.0, 20.0] + [round(rng.uniform(-40, 40), 1) for _ in range(beats - 2)]
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
        TempoSettings(bpm=bpm),
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


@pytest.fixture
def record(tmp_path: Path):
    with Record.open(tmp_path, backup_every=None) as opened:
        yield opened


@pytest.mark.parametrize("audio", [False, True], ids=["midi", "audio-and-midi"])
def test_logged_figures_match_the_known_offsets_within_1_ms(jack_server, record, audio):
    client = record.caseload.add_client("Robin")
    goal = record.caseload.add_goal(client.id, "gross motor", "Steady drumming")
    objective = record.caseload.add_objective(goal.id, "Taps on the beat at 120 bpm")
    session = record.sessions.start_session([client.id], "clinic", plan_ids=["timp-drum-reach"])
    target = LogTarget(record, session.id, objective_id=objective.id, plan_id="timp-drum-reach")
    offsets, extras = known_offsets(12)

    def logged_as_played(take: Take) -> None:
        """Each hit on its frame, heard at that frame's time, and the block's figures as worked out."""
        assert max(map(abs, take.played_ms)) < 0.05  # the drum played each note on its frame
        assert max(map(abs, take.heard_ms)) < 0.5  # and the input heard it at that frame's time
        assert take.reports, "the block was not reported"
        report = take.reports[-1]
        assert report.saved and not report.final, report.note
        (event,) = [e for e in record.events.session_events(session.id) if e.id == report.event.id]
        assert (event.objective_id, event.client_id) == (objective.id, client.id)
        assert event.plan_id == "timp-drum-reach"
        logged = event.payload
        assert isinstance(logged, Sync)
        want = expected_figures(offsets, extras)
        assert logged.mean_asynchrony_ms == pytest.approx(want.mean_ms, abs=1.0)
        assert logged.sd_ms == pytest.approx(want.sd_ms, abs=1.0)
        assert logged.pct_within == pytest.approx(want.pct_within)
        assert (logged.missed, logged.extra, logged.n_hits) == (want.missed, want.extra, 12)
        assert logged.tempo_bpm == pytest.approx(120.0, rel=1e-4)  # with audio: the sound card's clock rate
        assert logged.extra_fields["n_beats"] == 12 and logged.extra_fields["tolerance"] == "±50 ms"

    troubles: list[str] = []
    while len(troubles) < ATTEMPTS:  # a take disturbed by an xrun is judged only if its check holds
        take = play_take(jack_server.name, target, offsets, extras, label=f"e2e-{audio}", audio=audio)
        trouble = judge_or_retake(take.clean, take.trouble(), lambda take=take: logged_as_played(take))
        if trouble is None:
            break
        troubles.append(trouble)
        retake_after(trouble)
    else:
        raise never_clean(troubles)


@dataclass
class Following:
    """One adaptive take: its session, the sync state at the end, the adaptive states, the drum's xruns."""

    session_id: str
    final_state: ListeningState
    states: list[AdaptiveState]
    xruns: int


def follow_take(server: str, record: Record, client_id: str) -> Following:
    """The client drums 12 hits steadily at 135 bpm against 120 in follow mode (limit 126, 3 bpm a bar)."""
    session = record.sessions.start_session([client_id], "clinic")
    metronome = RemoteMetronome(TempoSettings(bpm=120), midi=MidiConfig(virtual="follow-click", backend=JACK))
    assert metronome.open() == []
    adaptive = AdaptiveSettings(
        AdaptiveMode.FOLLOW, min_bpm=100, max_bpm=126, beats_per_bar=4, max_change_per_bar_bpm=3
    )
    states: list[AdaptiveState] = []
    sender = HitSender(server, "follow-drum")
    sync = SyncSession(
        metronome,
        SyncSettings(block_beats=8, adaptive=adaptive),
        target=LogTarget(record, session.id),
        on_adaptive=states.append,
    )
    try:
        with sync, MidiInput(sender.port_name, backend=JACK, client_name="follow-in", on_hit=sync.hit):
            time.sleep(0.3)
            first = metronome.start(at=time.perf_counter() + 0.6)
            played = sender.play_at([(first + k * 60 / 135, DRUM, 90) for k in range(12)])
            time.sleep(0.5)
            final_state = sync.state
            metronome.stop()
    finally:
        metronome.close()
        sender.close()
    return Following(session.id, final_state, states, played.xruns)


def test_adaptive_tempo_follows_a_faster_client_within_its_limit(jack_server, record):
    """The client drums steadily at 135 bpm against 120: following moves up at most 3 bpm a bar and
    stops at the plan's 126 bpm ceiling; every change is logged as an adaptive tempo event."""
    client = record.caseload.add_client("Sam")

    def followed_to_the_ceiling(take: Following) -> None:
        """Two adaptive steps, 123 then the ceiling of 126 bpm, following a client at 135."""
        events = record.events.session_events(take.session_id)
        tempos = [e.payload for e in events if isinstance(e.payload, Tempo)]
        assert [t.bpm for t in tempos] == [123.0, 126.0]
        assert {t.source for t in tempos} == {"adaptive"}
        final_state = take.final_state
        assert final_state.adaptive is not None and final_state.adaptive.tempo_bpm == 126.0
        assert take.states and all(s.mode is AdaptiveMode.FOLLOW for s in take.states)
        assert final_state.adaptive.client_bpm == pytest.approx(135, abs=1.0)

    troubles: list[str] = []
    while len(troubles) < ATTEMPTS:  # a take with a JACK xrun is judged only if its check holds
        take = follow_take(jack_server.name, record, client.id)
        trouble = judge_or_retake(
            take.xruns == 0, f"{take.xruns} JACK xruns", lambda take=take: followed_to_the_ceiling(take)
        )
        if trouble is None:
            break
        troubles.append(trouble)
        retake_after(trouble)
    else:
        raise never_clean(troubles)
