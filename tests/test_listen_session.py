"""SyncSession against a real metronome (MIDI on JACK) and a real record: feedback, blocks, runs, tempo.

Hits are handed to `SyncSession.hit` by a player thread with exact timestamps (what MidiInput delivers),
placed at known offsets from the beats the metronome actually plays; the MIDI path itself is tested end
to end in test_listen_jack.py. The metronome is opened once for the module (opening a JACK port costs
about a second) and each test starts and stops its own runs.
"""

from __future__ import annotations

import sqlite3
import statistics
import threading
import time
from collections.abc import Iterator

import pytest

from audio.cadence import AdaptiveMode
from audio.engine import Metronome
from audio.engine_config import MidiConfig
from audio.live_sync import HitFeedback
from audio.midi_hits import Hit
from audio.sync_analysis import Tolerance
from audio.tempo import TempoSettings
from companion.live.listening import SyncSession, SyncSettings, adaptive_settings
from companion.live.listening_record import BlockReport, LogTarget
from companion.record import Record, Sync, Tempo

pytestmark = pytest.mark.jack

JACK = "mido.backends.rtmidi/UNIX_JACK"
PAD = 38
COMMITTED_S = 0.08
"""A beat's time is final once the engine has committed it (0.12 s ahead, polled every 20 ms)."""


@pytest.fixture(scope="module")
def metronome(jack_server) -> Iterator[Metronome]:
    m = Metronome(TempoSettings(bpm=150), midi=MidiConfig(virtual="listen-click", backend=JACK))
    assert m.open() == []
    yield m
    m.close()


@pytest.fixture
def target(impatient_record: Record) -> LogTarget:
    record = impatient_record
    client = record.caseload.add_client("Robin")
    objective = record.caseload.add_objective(
        record.caseload.add_goal(client.id, "fine motor", "Drumming").id, "On the beat"
    )
    return LogTarget(record, record.sessions.start_session([client.id]).id, objective_id=objective.id)


def wait_until(t: float) -> None:
    while (left := t - time.perf_counter()) > 0:
        time.sleep(min(left, 0.05))


def play(metronome: Metronome, sync: SyncSession, offsets_ms: dict[int, float], note: int = PAD) -> None:
    """The client: a hit `offsets_ms[beat]` from each of those beats (as the metronome really plays them)."""
    for beat, offset in sorted(offsets_ms.items()):
        planned = metronome.time_of(beat)
        assert planned is not None
        wait_until(planned - COMMITTED_S)
        sounded = metronome.time_of(beat)
        assert sounded is not None
        at = sounded + offset / 1000
        wait_until(at)
        sync.hit(Hit(at, note, 100))


def run(metronome: Metronome, settings: TempoSettings) -> float:
    metronome.set_settings(settings)
    return metronome.start(at=time.perf_counter() + 0.3)


def wait_for_blocks(blocks: list[BlockReport], count: int, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while len(blocks) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(blocks) >= count, blocks


def test_each_hit_is_reported_early_or_late_and_each_block_is_logged(metronome, target):
    feedback: list[HitFeedback] = []
    blocks: list[BlockReport] = []
    offsets = {0: -30.0, 1: 22.0, 2: -8.0, 3: 61.0, 4: 5.0, 6: -12.0, 7: 40.0}  # beat 5 missed
    sync = SyncSession(
        metronome,
        SyncSettings(block_beats=4, tolerance=Tolerance(ms=50)),
        target=target,
        on_feedback=feedback.append,
        on_block=blocks.append,
    )
    with sync:
        run(metronome, TempoSettings(bpm=150))
        play(metronome, sync, offsets)
        wait_for_blocks(blocks, 2)
        metronome.stop()
    assert [f.beat_index for f in feedback] == list(offsets)
    assert [f.asynchrony_ms for f in feedback] == pytest.approx(list(offsets.values()), abs=1e-6)
    assert [f.on_beat for f in feedback] == [True, True, True, False, True, True, True]
    assert [f.pct_on_beat for f in feedback] == pytest.approx([100, 100, 100, 75, 100, 200 / 3, 75])
    first, second = blocks[:2]
    assert first.saved and second.saved and not first.final
    assert first.summary.mean_asynchrony_ms == pytest.approx(statistics.fmean([-30, 22, -8, 61]), abs=1e-3)
    assert (second.summary.missed, second.summary.pct_on_beat) == (1, 75.0)
    logged = [e.payload for e in target.record.events.session_events(target.session_id)]
    assert [type(p) for p in logged] == [Sync, Sync]
    assert sync.state.blocks_saved == 2 and sync.state.problem == ""


def test_a_stopped_run_logs_its_unfinished_block_and_the_next_run_starts_afresh(metronome, target):
    blocks: list[BlockReport] = []
    sync = SyncSession(metronome, SyncSettings(block_beats=16), target=target, on_block=blocks.append)
    with sync:
        run(metronome, TempoSettings(bpm=150))
        play(metronome, sync, {0: 10.0, 1: -10.0, 2: 20.0, 3: -20.0, 4: 0.0})
        time.sleep(0.5)
        assert sync.state.following
        metronome.stop()
        wait_for_blocks(blocks, 1)
        assert blocks[0].final and blocks[0].saved
        assert blocks[0].summary.matched == 5 and 5 <= blocks[0].summary.n_beats <= 7
        run(metronome, TempoSettings(bpm=150))
        play(metronome, sync, {0: 5.0, 1: 5.0})
        final = sync.stop()
        metronome.stop()
    assert final is not None and final.final and final.number == 2
    assert final.summary.mean_asynchrony_ms == pytest.approx(5.0, abs=1e-3)
    assert [type(e.payload) for e in target.record.events.session_events(target.session_id)] == [Sync, Sync]


def test_count_in_beats_are_not_analysed(metronome, target):
    feedback: list[HitFeedback] = []
    sync = SyncSession(metronome, SyncSettings(block_beats=4), target=target, on_feedback=feedback.append)
    with sync:
        run(metronome, TempoSettings(bpm=150, count_in_bars=1))
        play(metronome, sync, {-3: 0.0, 0: -15.0, 1: 15.0})
        metronome.stop()
    assert [f.beat_index for f in feedback] == [None, 0, 1]


def test_a_tempo_change_mid_block_moves_the_beats_the_hits_are_matched_to(metronome, target):
    """The therapist speeds up at beat 3: every later beat comes earlier than first announced, and hits
    early for those new beats must count as early for them, not as late for the old schedule."""
    blocks: list[BlockReport] = []
    sync = SyncSession(metronome, SyncSettings(block_beats=8), target=target, on_block=blocks.append)
    offsets = {b: (-25.0 if b % 2 else 15.0) for b in range(8)}
    with sync:
        run(metronome, TempoSettings(bpm=120))
        changer = threading.Timer(0.3 + 2 * 0.5 - 0.2, metronome.set_tempo, args=(160,))
        changer.start()
        play(metronome, sync, offsets)
        wait_for_blocks(blocks, 1)
        metronome.stop()
    (block,) = blocks
    assert 120 < block.summary.beat_bpm < 160
    assert (block.summary.matched, block.summary.missed, block.summary.extra) == (8, 0, 0)
    assert block.summary.mean_asynchrony_ms == pytest.approx(statistics.fmean(offsets.values()), abs=1e-3)
    assert block.summary.pct_on_beat == 100.0


def test_entrained_client_steps_the_tempo_up(metronome, target):
    """Entrain mode holds the tempo until R >= 0.9 over 6 beats, then adds 5 % and counts afresh."""
    states = []
    adaptive = adaptive_settings(
        TempoSettings(bpm=150, bpm_max=170), AdaptiveMode.ENTRAIN, entrain_beats=6, step_percent=5
    )
    sync = SyncSession(
        metronome,
        SyncSettings(block_beats=32, adaptive=adaptive),
        target=target,
        on_adaptive=states.append,
    )
    with sync:
        run(metronome, TempoSettings(bpm=150))
        play(metronome, sync, {b: (-10.0 if b % 2 else -20.0) for b in range(15)})
        time.sleep(0.4)
        state = sync.state
        metronome.stop()
    events = target.record.events.session_events(target.session_id)
    tempos = [e.payload for e in events if isinstance(e.payload, Tempo)]
    assert [(t.bpm, t.source) for t in tempos] == [(157.5, "adaptive"), (165.38, "adaptive")]
    assert state.adaptive is not None and state.adaptive.changes == 2
    assert "entrained" in states[5].reason and states[4].entrained_beats == 5


def test_adaptive_tempo_is_off_by_default_and_then_not_shown(metronome, target):
    sync = SyncSession(metronome, target=target)
    assert sync.settings.adaptive.mode is AdaptiveMode.OFF
    assert sync.state.adaptive is None


def test_a_locked_database_keeps_the_block_pending_until_it_can_be_written(metronome, target):
    blocks: list[BlockReport] = []
    sync = SyncSession(metronome, SyncSettings(block_beats=3), target=target, on_block=blocks.append)
    blocker = sqlite3.connect(target.record.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    with sync:
        run(metronome, TempoSettings(bpm=150))
        play(metronome, sync, {0: 0.0, 1: 10.0, 2: 20.0})
        wait_for_blocks(blocks, 1)
        metronome.stop()
    report = blocks[0]
    assert not report.saved and "pending" in report.note and "close the other program" in report.note
    assert "block 1: pending" in sync.state.problem
    (pending,) = target.record.events.pending()
    blocker.execute("COMMIT")
    blocker.close()
    assert target.record.events.flush() == 1
    stored = target.record.events.session_events(target.session_id, include_pending=False)
    assert [e.id for e in stored] == [pending.id] and isinstance(stored[0].payload, Sync)


def test_blocks_without_figures_or_without_a_session_are_reported_not_logged(metronome, target):
    blocks: list[BlockReport] = []
    sync = SyncSession(metronome, SyncSettings(block_beats=2), target=target, on_block=blocks.append)
    with sync:
        run(metronome, TempoSettings(bpm=150))
        play(metronome, sync, {0: 0.0, 2: 5.0, 3: -5.0})
        wait_for_blocks(blocks, 2)
        sync.set_target(None)
        play(metronome, sync, {4: 0.0, 5: 0.0})
        wait_for_blocks(blocks, 3)
        metronome.stop()
    assert [b.saved for b in blocks[:3]] == [False, True, False]
    assert "1 of 2 beats hit" in blocks[0].note and "no session" in blocks[2].note
    assert len(target.record.events.session_events(target.session_id)) == 1


def test_only_the_chosen_notes_count_and_a_failing_display_does_not_stop_listening(metronome, target):
    shown: list[HitFeedback] = []

    def display(feedback: HitFeedback) -> None:
        if not shown:
            shown.append(feedback)
            raise RuntimeError("screen not ready")
        shown.append(feedback)

    sync = SyncSession(metronome, SyncSettings(notes=frozenset({PAD})), target=target, on_feedback=display)
    with sync:
        run(metronome, TempoSettings(bpm=150))
        play(metronome, sync, {0: 0.0, 1: 0.0})
        play(metronome, sync, {2: 0.0}, note=PAD + 1)
        metronome.stop()
    assert [f.beat_index for f in shown] == [0, 1]
    assert "screen not ready" in sync.state.problem and sync.state.hits == 2
