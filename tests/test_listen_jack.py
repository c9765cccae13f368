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

import time
from dataclasses import dataclass

import pytest
from support.engine_takes import ATTEMPTS, judge_or_retake, never_clean, retake_after
from support.hit_sender import HitSender
from support.listening_takes import DRUM, JACK, Take, expected_figures, known_offsets, play_take

from audio.cadence import AdaptiveMode, AdaptiveSettings, AdaptiveState
from audio.engine_client import RemoteMetronome
from audio.engine_config import MidiConfig
from audio.midi_input import MidiInput
from audio.tempo import TempoSettings
from companion.live.listening import ListeningState, SyncSession, SyncSettings
from companion.live.listening_record import LogTarget
from companion.record import Record, Sync, Tempo

pytestmark = pytest.mark.jack


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
