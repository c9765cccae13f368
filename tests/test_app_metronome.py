"""The app's metronome: settings, plan presets, a silent fallback that still beats, and the panel."""

from __future__ import annotations

import itertools
import threading
from fractions import Fraction
from pathlib import Path

import pytest
from support.pilot import app_for, log_lines, notices, start_session, switch_plan, until
from support.practice import Practice
from textual.pilot import Pilot

from audio.engine_events import BeatEvent, EngineEvent
from audio.tempo import TempoError
from companion.app.widgets.beat_light import BeatLight
from companion.live.cadence_taps import CadenceTaps, GaitPreset, RasStages, cadence_condition
from companion.live.metronome_control import MetronomeControl
from companion.live.metronome_state import describe
from companion.record import Cadence, Tempo
from interventions import Library, TempoPreset


def collect(control: MetronomeControl) -> tuple[list[BeatEvent], threading.Event]:
    beats: list[BeatEvent] = []
    enough = threading.Event()

    def heard(event: EngineEvent) -> None:
        if isinstance(event, BeatEvent):
            beats.append(event)
            if len(beats) >= 6:
                enough.set()

    control.add_listener(heard)
    return beats, enough


def test_with_no_output_the_beat_still_runs_on_the_engine_clock() -> None:
    control = MetronomeControl("none")
    control.set_bpm(240)
    beats, enough = collect(control)
    state = control.start()
    try:
        assert state.running and state.problems == {}
        assert enough.wait(5)
    finally:
        control.close()
    firsts = [b for b in beats if b.sub == 0][:6]
    intervals = [b.time - a.time for a, b in itertools.pairwise(firsts)]
    assert all(abs(i - 0.25) < 1e-6 for i in intervals)  # scheduled on exact tempo-map times
    assert [b.beat for b in firsts] == [0, 1, 2, 3, 0, 1]


def test_an_unusable_device_is_reported_and_the_light_keeps_time() -> None:
    control = MetronomeControl("audio", audio_device="no-such-sound-card-xyz")
    _beats, enough = collect(control)
    state = control.start()
    try:
        assert state.running and state.silent
        assert state.problems.get("audio")
        assert enough.wait(10)
    finally:
        control.close()


def test_a_plan_preset_loads_as_is_and_keeps_its_range(library: Library) -> None:
    plan = library.get("timp-drum-reach")
    assert plan is not None and plan.tempo is not None
    control = MetronomeControl("none")
    loaded = control.load_preset(plan.tempo.as_engine_kwargs())
    settings = loaded.settings
    assert loaded.cue.summary == "rock groove, intensity 2" and loaded.messages == ()
    assert (settings.bpm, str(settings.meter), settings.count_in_bars) == (72, "4/4", 1)
    assert control.nudge(100).bpm == 110  # clamped to the plan's bpm_max
    assert control.nudge(-5).bpm == 105
    with pytest.raises(TempoError, match="range"):
        control.set_bpm(130)
    assert describe(control.settings) == "4/4 · accents A B B B · count-in 1 bar · plan range 50-110"


def test_a_preferred_song_that_cannot_play_falls_back_to_a_groove_and_says_why(tmp_path: Path) -> None:
    broken = tmp_path / "moana.mid"
    broken.write_bytes(b"not a MIDI file")
    control = MetronomeControl("none")
    loaded = control.load_preset({"bpm": 90, "meter": "3/4", "cue": "preferred-song"}, [str(broken)])
    assert loaded.cue.summary == "waltz groove, intensity 2"
    assert any("moana.mid" in message for message in loaded.messages)
    assert control.state().cue_line == "cue: waltz groove, intensity 2"
    assert control.toggle_music() is False and control.state().cue_line.endswith("(off: click only)")


def test_changes_while_running_reach_the_engine() -> None:
    control = MetronomeControl("none")
    control.set_bpm(120)
    beats, _ = collect(control)
    control.start()
    try:
        control.set_bpm(150)
        deadline = threading.Event()
        for _ in range(60):
            if any(b.bpm == 150 for b in beats):
                break
            deadline.wait(0.05)
        assert control.current_bpm() == Fraction(150)
    finally:
        control.close()
    assert any(b.bpm == 150 for b in beats)


def test_every_nudge_counts_while_the_tempo_waits_for_the_next_beat() -> None:
    """Five quick presses of Down at 60 bpm: the change sounds only from the next beat, and each press
    steps from the tempo asked for, so the beat arrives at 55 (not 59)."""
    control = MetronomeControl("none")
    control.set_bpm(60)
    beats, _ = collect(control)
    control.start()
    try:
        until_beat = threading.Event()
        while not beats:
            until_beat.wait(0.01)
        for _ in range(5):
            control.nudge(-1)
        assert control.settings.bpm == 55
        for _ in range(100):
            if any(b.bpm != 60 for b in beats):
                break
            until_beat.wait(0.05)
    finally:
        control.close()
    assert {b.bpm for b in beats if b.bpm != 60} == {55}


def test_output_choice_is_checked() -> None:
    with pytest.raises(ValueError, match="audio, midi, both, none"):
        MetronomeControl("speakers")


async def test_the_session_screen_drives_the_metronome_and_logs_tempo(practice: Practice) -> None:
    app = app_for(practice.data_dir)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await start_session(pilot, "down", "s")  # Ben: his suggestions have a tempo preset first
        plan = screen.live.plan
        assert plan is not None and plan.tempo is not None
        await pilot.press("p")
        assert app.metronome.settings.bpm == Fraction(str(plan.tempo.bpm))
        await pilot.press("space")
        light = screen.query_one(BeatLight)
        await until(pilot, lambda: light.shown >= 3)
        await pilot.press("up", "up")
        await pilot.press("plus")
        await until(pilot, lambda: len(log_lines(app)) >= 4)
        await pilot.press("space")
        await until(pilot, lambda: not app.metronome.running)
        session_id = screen.live.session.id
    with practice.open() as record:
        events = record.events.session_events(session_id)
    tempi = [e.payload.bpm for e in events if isinstance(e.payload, Tempo)]
    start = float(plan.tempo.bpm)
    assert tempi[0] == start and tempi[-1] == start + 2  # the tempo in force when the trial was tapped
    assert events[-1].kind == "trial" and events[-2].kind == "tempo"


def test_tap_series_measures_a_cadence_and_restarts_after_a_pause() -> None:
    series = CadenceTaps(pause_s=2.0)
    readings = [series.tap(10 + 0.6 * n) for n in range(8)]
    assert readings[3].cadence is None and "at least" in readings[3].describe()
    found = readings[-1].cadence
    assert found is not None and round(found.steps_per_min, 1) == 100.0 and found.steps == 8
    assert series.tap(30).taps == 1  # a pause starts a new series
    assert series.finish().cadence is None and not series.active


TAP_EVERY_S = 0.6
"""About 100 taps a minute: well below Ben's plan ceiling (bpm_max 110), so the ramp has a next stage."""


async def tap_steps(pilot: Pilot[None], taps: int = 8) -> None:
    for _ in range(taps):
        await pilot.press("t")
        await pilot.pause(TAP_EVERY_S)


async def test_tap_tempo_in_a_gait_plan_logs_a_baseline_cadence_and_the_preset_starts_from_it(
    practice: Practice,
) -> None:
    app = app_for(practice.data_dir)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await start_session(pilot, "down", "s")  # Ben
        await switch_plan(pilot, screen, "ras gait training", "ras-gait-training")
        await tap_steps(pilot)
        await until(pilot, lambda: any("cadence" in line.text for line in log_lines(app)), timeout=10)
        session_id = screen.live.session.id
        tempo = float(app.metronome.settings.bpm)
        plan = screen.live.plan
        assert plan is not None and plan.tempo is not None and plan.tempo.bpm_max == 120
        # The RAS ramp from the tempo as measured (whatever the pilot's delays made it), worked out here:
        # the plan's +5 % per stage, capped at its ceiling.
        stages = RasStages.from_baseline(tempo, plan.tempo)
        assert screen.ras == stages and screen.ras.bpm == tempo and not stages.last
        await pilot.press("x")  # the next RAS stage
        await until(pilot, lambda: float(app.metronome.settings.bpm) != tempo)
        assert float(app.metronome.settings.bpm) == stages.advanced().bpm
        assert screen.ras == stages.advanced()
        # The preset starts from the client's cadence, not the plan's 90 bpm, and no timer raises it:
        # the therapist does, with x, when the client walks steadily.
        await pilot.press("p")
        await until(pilot, lambda: float(app.metronome.settings.bpm) == tempo)
        assert app.metronome.settings.ramp is None and screen.ras == stages
        assert "from the last measured cadence" in notices(app)[-1]
    with practice.open() as record:
        cadences = [
            e.payload for e in record.events.session_events(session_id) if isinstance(e.payload, Cadence)
        ]
    assert len(cadences) == 1 and cadences[0].steps_per_min == tempo
    assert cadences[0].condition == "baseline"  # walked before any cue this session
    # Taps every 0.6 s (100/min), plus the pilot's own delays on a busy machine.
    assert 60 / (TAP_EVERY_S + 0.25) <= tempo <= 60 / TAP_EVERY_S + 5


async def test_tap_tempo_in_a_drum_session_sets_the_tempo_and_logs_no_gait_cadence(
    practice: Practice,
) -> None:
    app = app_for(practice.data_dir)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await start_session(pilot, "down", "s")  # Ben: TIMP drum reach, which takes no cadence
        plan = screen.live.plan
        assert plan is not None and plan.id == "timp-drum-reach"
        before = app.metronome.settings.bpm
        await tap_steps(pilot)
        await until(pilot, lambda: app.metronome.settings.bpm != before, timeout=10)
        tempo = float(app.metronome.settings.bpm)
        assert screen.ras is None and "no gait cadence" in notices(app)[-1]
        await pilot.press("space")
        await until(pilot, lambda: any("♩" in line.text for line in log_lines(app)))
        await pilot.press("space")
        session_id = screen.live.session.id
    with practice.open() as record:
        payloads = [e.payload for e in record.events.session_events(session_id)]
    assert not any(isinstance(p, Cadence) for p in payloads)
    assert [p.bpm for p in payloads if isinstance(p, Tempo)] == [tempo]


def test_gait_conditions_follow_the_cue() -> None:
    assert cadence_condition(running=False, cue_faded=False, cued_before=False) == "baseline"
    assert cadence_condition(running=True, cue_faded=False, cued_before=True) == "cued"
    assert cadence_condition(running=True, cue_faded=True, cued_before=True) == "cue faded"
    assert cadence_condition(running=False, cue_faded=False, cued_before=True) == "cue faded"


def test_a_gait_preset_starts_from_the_cadence_within_the_plan_s_range(library: Library) -> None:
    plan = library.get("ras-pediatric-gait")
    assert plan is not None and plan.tempo is not None
    first = GaitPreset.from_cadence(plan.tempo, None)
    assert first.bpm == plan.tempo.bpm and first.stages is None and "ramp" not in first.values
    child = GaitPreset.from_cadence(plan.tempo, 152.0)  # a five-year-old's typical cadence
    assert child.bpm == 152.0 and child.values["bpm"] == 152.0 and "ramp" not in child.values
    assert child.stages is not None and child.stages.bpm == 152.0 and not child.stages.last
    adult = library.get("ras-gait-training")
    assert adult is not None and adult.tempo is not None
    held = GaitPreset.from_cadence(adult.tempo, 131.0)
    assert held.bpm == 120 and "held to the plan's range 60-120" in held.note


def test_ras_stages_follow_the_plans_percent_ramp_and_stop_at_its_ceiling() -> None:
    preset = TempoPreset.model_validate(
        {
            "bpm": 90,
            "bpm_max": 120,
            "ramp": {"kind": "percent", "percent": 10, "every_bars": 8, "max_bpm": 115},
        }
    )
    stages = RasStages.from_baseline(96.0, preset)
    assert stages.tempos == (96.0, 105.6, 115.0) and stages.percent == 10
    assert stages.advanced().bpm == 105.6 and stages.advanced().advanced().last
    assert stages.advanced().advanced().advanced().bpm == 115.0
    assert "stage 2/3" in stages.advanced().describe() and "▶105.6" in stages.advanced().describe()
    default = RasStages.from_baseline(100.0)
    assert default.tempos == (100.0, 105.0, 110.2, 115.8, 121.6)
