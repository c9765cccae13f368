"""The app listening end to end on JACK: a drum client (another JACK client, another process) plays hits
with known offsets into the app's MIDI input while the app's metronome plays; the strip shows them and
the Sync event in the SQLite file matches the offsets within 1 ms.

Everything is real: the app's metronome on JACK MIDI, the input chosen in the session screen's picker,
`MidiInput`'s JACK reader, the session's writer thread and the record. Expected figures come from the
offsets (`test_listen_jack.expected_figures`), not from the analysis under test. The drum plays from a
thread, so the app's event loop runs meanwhile as it would in a session.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import pytest
from support.engine_takes import ATTEMPTS, judge_or_retake, never_clean, retake_after
from support.hit_sender import HitSender
from support.jackd import JackServer
from support.listening_takes import DRUM, TOLERANCE_MS, Expected, expected_figures, known_offsets
from support.pilot import app_for, log_lines, on_screen, start_session, switch_plan, until, until_notified
from support.practice import Practice
from textual.pilot import Pilot

from companion.app import CompanionApp
from companion.app.screens.dialogs import Pick
from companion.app.screens.session.screen import LiveSessionScreen
from companion.app.widgets.sync_strip import SyncStrip
from companion.live.listening import SyncSettings
from companion.live.listening_control import Mark
from companion.record import Cadence, Sync, Tempo

pytestmark = pytest.mark.jack

JACK_MIDI = "mido.backends.rtmidi/UNIX_JACK"
BLOCK = 8
BPM = 120
LEAD_S = 1.0
"""The drum's first hit lies at least this far ahead when it is planned (the sender needs notes ahead)."""


def synced(app: CompanionApp) -> int:
    """Sync entries in the live log."""
    return sum(isinstance(line.entry.event.payload, Sync) for line in log_lines(app))


async def choose_input(pilot: Pilot[None], screen: LiveSessionScreen, port: str) -> None:
    """S opens the picker; the drum's port is chosen by its digit; listening starts."""
    await pilot.press("S")
    picker = await on_screen(pilot, Pick)
    names = [value for _, value in picker.choices]
    assert not any("app-click" in name for name in names)  # the metronome's own port is not offered
    index = next(i for i, name in enumerate(names) if port in name)
    await pilot.press(str(index + 1))
    await on_screen(pilot, LiveSessionScreen)
    await until(pilot, lambda: screen.listening.listening)


async def test_hits_played_into_the_apps_input_show_on_the_strip_and_are_logged_within_1_ms(
    jack_server: JackServer, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIDO_BACKEND", JACK_MIDI)
    offsets, extras = known_offsets(BLOCK)
    want = expected_figures(offsets, extras)
    played_ms = sorted([*(o for o in offsets if o is not None), *extras.values()])
    app = app_for(practice.data_dir, metronome_outputs="midi", midi_virtual="app-click")
    sender = HitSender(jack_server.name, "app-drum")
    try:
        async with app.run_test(size=(100, 32)) as pilot:
            screen = await start_session(pilot)  # Ava, her first objective selected
            screen.listening.settings = SyncSettings(block_beats=BLOCK)
            await choose_input(pilot, screen, sender.port_name)
            await until_notified(pilot, app, "space starts the metronome")
            app.metronome.set_bpm(BPM)
            await pilot.press("space")
            await until(pilot, lambda: app.metronome.running)
            assert app.metronome.state().problems == {}
            engine = app.metronome.engine
            assert engine is not None
            troubles: list[str] = []
            while len(troubles) < ATTEMPTS:  # a block disturbed by a JACK xrun is judged only if it holds
                now_beat = engine.beat_at(time.perf_counter() + LEAD_S)
                assert now_beat is not None
                start = (int(now_beat) // BLOCK + 1) * BLOCK
                beats = [engine.time_of(start + k) for k in range(BLOCK)]
                intended = [
                    beats[k] + offset / 1000  # type: ignore[operator]
                    for k, offset in [*enumerate(offsets), *extras.items()]
                    if offset is not None
                ]
                played = await asyncio.to_thread(sender.play_at, [(t, DRUM, 100) for t in intended])
                logged = synced(app)
                await until(pilot, lambda n=logged: synced(app) > n, timeout=BLOCK * 60 / BPM + 5)
                marks, block = screen.listening.view().marks, newest_sync(app)
                trouble = judge_or_retake(
                    played.xruns == 0,
                    f"{played.xruns} JACK xruns",
                    lambda marks=marks, block=block: check_block(marks, block, played_ms, want),
                )
                if trouble is None:
                    break
                troubles.append(trouble)
                await asyncio.to_thread(retake_after, trouble)
            else:
                raise never_clean(troubles)
            strip_text = str(screen.query_one(SyncStrip).render())
            await pilot.press("s")
            await until(pilot, lambda: not screen.listening.listening)
            await choose_input(pilot, screen, sender.port_name)  # again, while the metronome plays
            await until_notified(pilot, app, "hits are matched to the beat")
            await pilot.press("s")
            await until(pilot, lambda: not screen.listening.listening)
            await pilot.press("space")
            session_id = screen.live.session.id
            objective = screen.live.objective
            plan = screen.live.plan
    finally:
        sender.close()
    assert "% on beat" in strip_text and "window ±50 ms" in strip_text
    with practice.open() as record:
        syncs = [e for e in record.events.session_events(session_id) if isinstance(e.payload, Sync)]
    event = syncs[-1]  # the judged block (an earlier one a JACK xrun disturbed was logged too)
    assert isinstance(event.payload, Sync)
    assert objective is not None and (event.client_id, event.objective_id) == (practice.ava, objective.id)
    assert event.plan_id == (plan.id if plan is not None else None)
    check_block(marks, event.payload, played_ms, want)  # what was stored is what was shown
    assert TOLERANCE_MS == 50.0  # the app's default window, as the figures above assume


def newest_sync(app: CompanionApp) -> Sync:
    """The Sync entry the live log shows last."""
    payloads = [line.entry.event.payload for line in log_lines(app)]
    return [payload for payload in payloads if isinstance(payload, Sync)][-1]


def check_block(marks: Sequence[Mark], block: Sync, played_ms: list[float], want: Expected) -> None:
    """Each hit on the strip early or late as played, and the block's figures as worked out from the
    offsets (`test_listen_jack.expected_figures`)."""
    shown = sorted(m.asynchrony_ms for m in marks[-len(played_ms) :])
    assert shown == pytest.approx(played_ms, abs=1.0)
    assert block.mean_asynchrony_ms == pytest.approx(want.mean_ms, abs=1.0)
    assert block.sd_ms == pytest.approx(want.sd_ms, abs=1.0)
    assert block.pct_within == pytest.approx(want.pct_within)
    assert (block.missed, block.extra, block.n_hits) == (want.missed, want.extra, BLOCK)
    assert block.tempo_bpm == pytest.approx(BPM, rel=1e-4)


async def test_pedal_hits_while_the_metronome_is_stopped_are_cadence_steps(
    jack_server: JackServer, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RAS baseline from a MIDI pedal: eight steps 0.6 s apart give 100 steps/min, logged and set."""
    monkeypatch.setenv("MIDO_BACKEND", JACK_MIDI)
    app = app_for(practice.data_dir, metronome_outputs="midi", midi_virtual="app-click-2")
    sender = HitSender(jack_server.name, "app-pedal")
    try:
        async with app.run_test(size=(100, 32)) as pilot:
            screen = await start_session(pilot, "down", "s")  # Ben: gait
            await switch_plan(pilot, screen, "ras gait training", "ras-gait-training")  # takes cadence
            await choose_input(pilot, screen, sender.port_name)
            start = time.perf_counter() + LEAD_S
            await asyncio.to_thread(sender.play_at, [(start + 0.6 * k, 64, 100) for k in range(8)])
            await until(
                pilot, lambda: any(isinstance(line.entry.event.payload, Cadence) for line in log_lines(app))
            )
            await until(pilot, lambda: float(app.metronome.settings.bpm) == pytest.approx(100.0, abs=0.2))
            await until_notified(pilot, app, "Cadence 100")
            session_id = screen.live.session.id
    finally:
        sender.close()
    with practice.open() as record:
        (cadence,) = [
            e.payload for e in record.events.session_events(session_id) if isinstance(e.payload, Cadence)
        ]
    assert isinstance(cadence, Cadence)
    assert cadence.steps_per_min == pytest.approx(100.0, abs=0.2) and cadence.n_steps == 8


async def test_adaptive_tempo_follows_a_faster_client_and_the_strip_shows_the_tempo_it_set(
    jack_server: JackServer, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client drums at 135 bpm against 120: follow mode moves the app's metronome up, at most
    2 bpm a bar; every change is a Tempo event (source adaptive) in the log, and the strip names it."""
    monkeypatch.setenv("MIDO_BACKEND", JACK_MIDI)
    app = app_for(practice.data_dir, metronome_outputs="midi", midi_virtual="app-click-3")
    sender = HitSender(jack_server.name, "app-fast-drum")
    try:
        async with app.run_test(size=(100, 32)) as pilot:
            screen = await start_session(pilot)
            await pilot.press("a")
            assert screen.listening.adaptive_mode == "follow"
            await choose_input(pilot, screen, sender.port_name)
            app.metronome.set_bpm(BPM)
            await pilot.press("space")
            await until(pilot, lambda: app.metronome.running)
            engine = app.metronome.engine
            assert engine is not None
            now_beat = engine.beat_at(time.perf_counter() + LEAD_S)
            assert now_beat is not None
            first = engine.time_of(int(now_beat) + 1)
            assert first is not None
            await asyncio.to_thread(sender.play_at, [(first + k * 60 / 135, DRUM, 90) for k in range(16)])
            await until(pilot, lambda: float(app.metronome.settings.bpm) > BPM)
            strip = screen.query_one(SyncStrip)

            def shows_the_set_tempo() -> bool:
                return f"set {float(app.metronome.settings.bpm):.1f} bpm" in str(strip.render())

            await until(pilot, shows_the_set_tempo)
            strip_text = str(strip.render())
            set_bpm = float(app.metronome.settings.bpm)
            await pilot.press("s")
            await until(pilot, lambda: not screen.listening.listening)
            await choose_input(pilot, screen, sender.port_name)  # again, while the metronome plays
            await until_notified(pilot, app, "hits are matched to the beat")
            await pilot.press("s")
            await until(pilot, lambda: not screen.listening.listening)
            await pilot.press("space")
            session_id = screen.live.session.id
    finally:
        sender.close()
    assert f"adaptive follow 40-140 bpm · set {set_bpm:.1f} bpm" in strip_text
    with practice.open() as record:
        tempos = [e.payload for e in record.events.session_events(session_id) if isinstance(e.payload, Tempo)]
    adaptive = [t.bpm for t in tempos if t.source == "adaptive"]
    assert adaptive and adaptive[-1] == set_bpm
    steps = [b - a for a, b in zip([float(BPM), *adaptive], adaptive, strict=False)]
    assert all(0 < step <= 2.0 + 1e-9 for step in steps), adaptive
