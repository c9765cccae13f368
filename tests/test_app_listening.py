"""Listening in the session screen, driven with Textual's pilot on a real SQLite record (no MIDI device:
the JACK tests in test_app_listening_jack.py play into the app's input)."""

from __future__ import annotations

import asyncio

import pytest
from support.pilot import SIZE, app_for, log_lines, notices, settled, start_session, until
from support.practice import Practice, write_lock

from companion.app.widgets.sync_strip import SyncStrip, column
from companion.live.listening_control import StripView
from companion.paths import plans_dir
from companion.record import StorageError, Sync, Trial
from interventions import SHIPPED_DIR

NO_MIDI = "mido.backends.rtmidi/NO_SUCH_API"
"""A MIDO_BACKEND naming a MIDI system this machine does not have (a typo in a setting)."""


def block(pct: float = 75.0) -> Sync:
    return Sync(
        mean_asynchrony_ms=-12.5, sd_ms=18.0, r=0.93, pct_within=pct, n_hits=12, missed=1, extra=0,
        tempo_bpm=96.0,
    )  # fmt: skip


async def test_a_midi_system_that_cannot_be_used_says_why_and_the_session_carries_on(
    practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIDO_BACKEND", NO_MIDI)
    app = app_for(practice.data_dir)
    async with app.run_test(size=SIZE) as pilot:
        screen = await start_session(pilot)
        opening = len(log_lines(app))
        await pilot.press("s")
        problem = "the MIDI inputs cannot be listed (unknown API NO_SUCH_API): check that"
        await until(pilot, lambda: any(n.startswith(problem) for n in notices(app)))
        assert not screen.listening.listening
        assert not screen.query_one(SyncStrip).has_class("-on")
        await pilot.press("plus")
        await until(pilot, lambda: len(log_lines(app)) == opening + 1)
        session_id = screen.live.session.id
    with practice.open() as record:
        assert [e.payload for e in record.events.session_events(session_id)][-1] == Trial(True, "independent")


async def test_adaptive_tempo_is_off_by_default_and_always_shown_while_on(practice: Practice) -> None:
    app = app_for(practice.data_dir)
    async with app.run_test(size=SIZE) as pilot:
        screen = await start_session(pilot, "down", "s")  # Ben: TIMP drum reach, a range in its preset
        strip = screen.query_one(SyncStrip)
        assert screen.listening.adaptive_mode == "off" and not strip.has_class("-on")
        await pilot.press("p", "a")
        low, high = app.metronome.settings.bpm_min, app.metronome.settings.bpm_max
        assert low is not None and high is not None
        await until(pilot, lambda: strip.has_class("-on"))
        shown = str(strip.render())
        assert f"adaptive follow {float(low):g}-{float(high):g} bpm" in shown
        assert "acts while listening (s)" in shown
        await pilot.press("a")
        await until(pilot, lambda: "adaptive entrain" in str(strip.render()))
        await pilot.press("a")
        await until(pilot, lambda: not strip.has_class("-on"))
        assert screen.listening.adaptive().mode == "off"


async def test_a_plan_that_asks_for_adaptive_tempo_turns_it_on_with_its_preset(practice: Practice) -> None:
    shipped = SHIPPED_DIR / "timp-drum-reach.toml"
    own = shipped.read_text().replace("[tempo]\n", '[tempo]\nadaptive = "entrain"\n', 1)
    assert own.count('adaptive = "entrain"') == 1
    plans_dir(practice.data_dir).joinpath(shipped.name).write_text(own)  # the therapist's own version
    app = app_for(practice.data_dir)
    async with app.run_test(size=SIZE) as pilot:
        screen = await start_session(pilot, "down", "s")  # Ben: TIMP drum reach
        strip = screen.query_one(SyncStrip)
        assert screen.listening.adaptive_mode == "off" and not strip.has_class("-on")
        await pilot.press("p")
        await until(pilot, lambda: strip.has_class("-on"))
        assert screen.listening.adaptive_mode == "entrain" and "adaptive entrain" in str(strip.render())
        assert any("plan's" in (n.title or "") for n in app._notifications)


async def test_a_block_is_logged_against_the_selected_client_and_objective_durable_first(
    practice: Practice,
) -> None:
    app = app_for(practice.data_dir, busy_timeout=0.1)
    async with app.run_test(size=SIZE) as pilot:
        screen = await start_session(pilot, "space", "down", "space", "s")  # Ava and Ben
        await pilot.press("g")  # Ben is working now
        sink = screen.listening.sink
        event = await asyncio.to_thread(sink.log, block())
        await until(pilot, lambda: any(line.entry.id == event.id for line in log_lines(app)))
        assert "sync 75% of 12 hits on the beat" in log_lines(app)[0].text
        with write_lock(practice.data_dir / "companion.db"):
            with pytest.raises(StorageError):
                await asyncio.to_thread(sink.log, block(50.0))
            await until(pilot, lambda: not log_lines(app)[0].entry.saved)  # shown as pending, kept
        await until(pilot, lambda: log_lines(app)[0].entry.saved, timeout=15)  # the retry saved it
        session_id = screen.live.session.id
    with practice.open() as record:
        syncs = [e for e in record.events.session_events(session_id) if isinstance(e.payload, Sync)]
    assert [(e.client_id, e.objective_id, e.payload.pct_within) for e in syncs] == [
        (practice.ben, practice.ben_reach, 75.0),
        (practice.ben, practice.ben_reach, 50.0),
    ]
    assert syncs[0].id == event.id


def test_the_strip_places_early_hits_left_late_hits_right_and_clamps_at_the_edges() -> None:
    assert [column(ms, 150.0, 61) for ms in (-150.0, -50.0, 0.0, 50.0, 150.0)] == [0, 20, 30, 40, 60]
    assert column(-900.0, 150.0, 61) == 0 and column(900.0, 150.0, 61) == 60


async def test_the_strip_draws_its_view(practice: Practice) -> None:
    from companion.live.listening_control import Mark

    app = app_for(practice.data_dir)
    async with app.run_test(size=SIZE) as pilot:
        screen = await start_session(pilot)
        strip = screen.query_one(SyncStrip)
        view = StripView(
            visible=True, listening=True, window_ms=50.0, span_ms=150.0,
            marks=(Mark(-150.0, False, False), Mark(20.0, True, False), Mark(150.0, False, False)),
            headline="drum · block 2", last_hit="last hit 150 ms late (off beat)", last_block="",
            adaptive="", problem="",
        )  # fmt: skip
        strip.show(view)
        await settled(pilot)
        track = strip.track(61).plain
        assert track[0] == "•" and track[60] == "●" and track[column(20.0, 150.0, 61)] == "•"
        assert track[30] == "│"
        lines = str(strip.render()).splitlines()
        assert lines[0] == "drum · block 2" and lines[1].startswith("early ") and lines[1].endswith(" late")
        assert lines[2].startswith("last hit 150 ms late")
