"""Musical cues from the session screen: every key reaches the real `CuePlayer` on a running metronome.

The app runs with no audio/MIDI output (beat light only), so the engine's scheduler still drives the
player: bars advance, loops and fades are taken by the player exactly as with a sound card; what the
outputs receive is checked on JACK in tests/test_app_cues_jack.py.
"""

from __future__ import annotations

from pathlib import Path

from support.pilot import app_for, notices, on_screen, pick, start_session, until
from support.practice import TWINKLE, Practice
from textual.pilot import Pilot

from audio.cues import CLICK, GrooveCue, SongCue
from audio.song import Loop
from companion.app.app import CompanionApp
from companion.app.screens.cue_picker import CuePicker
from companion.app.screens.dialogs import Pick, TextPrompt
from companion.app.screens.help import HelpScreen
from companion.app.screens.session.screen import LiveSessionScreen
from companion.app.widgets.metronome_panel import MetronomePanel
from companion.live.metronome_control import MetronomeControl
from companion.record import Trial


async def start(pilot: Pilot[None], metronome: MetronomeControl) -> None:
    metronome.set_bpm(240)  # a bar a second: bar lines come quickly
    await pilot.press("space")
    await until(pilot, lambda: metronome.running)


async def refused_then_playing(pilot: Pilot[None], key: str, refusal: str, cue: str) -> MetronomeControl:
    """In a new session `key` first says why it cannot apply yet; then the cue is picked and started."""
    await start_session(pilot)
    await pilot.press(key)
    app = pilot.app
    assert isinstance(app, CompanionApp) and refusal in notices(app)[-1]
    await pick(pilot, cue)
    await start(pilot, app.metronome)
    return app.metronome


def panel_text(app: CompanionApp) -> str:
    panel = app.screen.query_one(MetronomePanel)
    return " ".join(str(static.render()) for static in panel.query("Static"))


async def test_the_picker_lists_the_clients_songs_first_and_a_broken_one_says_why(
    practice_with_songs: Practice,
) -> None:
    app = app_for(practice_with_songs.data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await start_session(pilot)
        await pilot.press("K")
        picker = await on_screen(pilot, CuePicker)
        labels = [label for label, _ in picker.choices]
        assert labels[0].startswith("* broken.mid: cannot play:") and "broken.mid" in labels[0]
        assert labels[1].startswith("* Twinkle")
        assert [label for label in labels if label.startswith("Twinkle")] == []  # listed once, as preferred
        grooves = [label for label in labels if "groove" in label]
        assert grooves and all("(4/4)" in g or "(2/4)" in g for g in grooves)  # those the meter can play
        assert "waltz groove (3/4)" not in labels and labels[-1] == "click only"
        await pilot.press("1")
        await on_screen(pilot, LiveSessionScreen)
        (shown,) = [n for n in notices(app) if "broken.mid" in n]
        assert "carries on" in shown
        assert app.metronome.cue is CLICK  # nothing changed: the click plays on


async def test_picking_a_song_counts_its_meter_and_the_panel_shows_the_bar(
    practice_with_songs: Practice,
) -> None:
    app = app_for(practice_with_songs.data_dir)
    async with app.run_test(size=(160, 48)) as pilot:
        await start_session(pilot)
        await pick(pilot, "Amazing Grace")
        metronome = app.metronome
        assert isinstance(metronome.cue, SongCue) and str(metronome.settings.meter) == "3/4"
        await start(pilot, metronome)
        await until(pilot, lambda: "bar 2" in panel_text(app))
        assert "♪ bar 2 · Amazing Grace" in panel_text(app)
        await pilot.press("space")


async def test_fading_the_click_and_the_music_out_and_back_in(practice_with_songs: Practice) -> None:
    app = app_for(practice_with_songs.data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        metronome = await refused_then_playing(pilot, "f", "start the metronome", "rock groove")
        await pilot.press("f")
        state = metronome.state()
        assert state.playing is not None and state.playing.click_gain == 0.0
        await pilot.press("F")
        state = metronome.state()
        assert state.playing is not None and state.playing.music_gain == 0.0
        assert "click faded" in panel_text(app) and "music faded" in panel_text(app)
        await pilot.press("f", "F")
        state = metronome.state()
        assert state.playing is not None and (state.playing.click_gain, state.playing.music_gain) == (1, 1)
        assert "faded" not in panel_text(app)
        await pilot.press("k", "F")  # the music is off: nothing to fade, and it says so
        assert "no groove or song is playing" in notices(app)[-1]
        await pilot.press("space")


async def test_groove_intensity_steps_within_one_to_three(practice_with_songs: Practice) -> None:
    app = app_for(practice_with_songs.data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        metronome = await refused_then_playing(pilot, ">", "only a groove has an intensity", "rock groove")
        intensities = []
        for key in ("greater_than_sign", "full_stop", "less_than_sign", "comma", "comma"):
            await pilot.press(key)
            assert isinstance(metronome.cue, GrooveCue)
            intensities.append(metronome.cue.intensity)
        assert intensities == [3, 3, 2, 1, 1]
        player_state = metronome.state().playing
        assert player_state is not None and player_state.cue == metronome.cue
        await pilot.press("space")


async def test_loop_a_b_from_the_bar_playing_then_clear(practice_with_songs: Practice) -> None:
    app = app_for(practice_with_songs.data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        metronome = await refused_then_playing(pilot, "L", "only a song can loop", "* Twinkle")
        await until(pilot, lambda: metronome.current_bar() >= 2)
        await pilot.press("L")
        first = metronome.loop_start
        assert first is not None and "Loop from bar" in notices(app)[-1]
        await until(pilot, lambda: metronome.current_bar() >= first + 1)
        await pilot.press("L")
        cue = metronome.cue
        assert isinstance(cue, SongCue) and cue.loop is not None and cue.loop.first_bar == first
        loop = cue.loop
        assert loop.last_bar > first and "Looping" in notices(app)[-1]
        # The song stays inside the loop (bar lines at 240 bpm come every second).
        bars = set()
        for _ in range(30):
            await pilot.pause(0.1)
            bars.add(metronome.current_bar())
        assert bars <= set(range(loop.first_bar, loop.last_bar + 1)) and len(bars) >= 2
        await pilot.press("L")
        cue = metronome.cue
        assert isinstance(cue, SongCue) and cue.loop is None and "Loop ended" in notices(app)[-1]
        await pilot.press("space")


async def test_seek_to_a_bar_at_the_next_bar_line(practice_with_songs: Practice) -> None:
    app = app_for(practice_with_songs.data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await start_session(pilot)
        metronome = app.metronome
        await pick(pilot, "* Twinkle")
        await pilot.press("j")
        await on_screen(pilot, TextPrompt)
        await pilot.press("9", "9", "enter")
        await on_screen(pilot, LiveSessionScreen)
        assert "bar 99" in notices(app)[-1] and "1-12" in notices(app)[-1]
        await start(pilot, metronome)
        await pilot.press("j")
        await on_screen(pilot, TextPrompt)
        await pilot.press("9", "enter")
        await on_screen(pilot, LiveSessionScreen)
        await until(pilot, lambda: metronome.current_bar() in (9, 10))
        await pilot.press("space")


async def test_incorrect_with_a_prompt_level_is_logged_with_that_level(practice_with_songs: Practice) -> None:
    app = app_for(practice_with_songs.data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start_session(pilot)
        levels = screen.live.prompt_levels
        await pilot.press("number_sign", "at")  # shift+3, shift+2 on a US keyboard
        await pilot.press("underscore")  # any layout, or the palette: the level from a list
        await on_screen(pilot, Pick)
        assert "4  - with " + levels[3] in str(app.screen.query_one("#choices").get_option_at_index(2).prompt)
        await pilot.press("4")  # numbered as on the pad and as ⇧4: the pad's button 4
        await on_screen(pilot, LiveSessionScreen)
        await until(pilot, lambda: len(screen.live.entries()) >= 3)
        trials = [e.event.payload for e in screen.live.entries() if isinstance(e.event.payload, Trial)]
        assert trials == [Trial(False, levels[2]), Trial(False, levels[1]), Trial(False, levels[3])]


async def test_help_lists_the_cue_keys(practice_with_songs: Practice) -> None:
    app = app_for(practice_with_songs.data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await start_session(pilot)
        await pilot.press("question_mark")
        await on_screen(pilot, HelpScreen)
        listed = app.screen.listed
        assert isinstance(app.screen, HelpScreen)
        for line in ("Song or groove…", "Fade the click out/in", "Fade the music out/in", "Loop A-B"):
            assert line in listed
        assert listed["Incorrect with a prompt: shift (⇧) + the level's number"].startswith("⇧2 / ⇧3")


def test_a_loop_set_while_stopped_is_kept_for_the_start(tmp_path: Path) -> None:
    """Without the session screen: the control's rules for a song that is not playing yet."""
    from audio.song_file import load_song

    control = MetronomeControl("none")
    control.choose_cue(SongCue(load_song(TWINKLE)))
    assert control.mark_loop() is None and control.loop_start == 1
    control.seek(4)
    assert control.mark_loop() == Loop(1, 4)
    cue = control.cue
    assert isinstance(cue, SongCue) and cue.start_bar == 4 and cue.loop == Loop(1, 4)
    assert control.mark_loop() is None and isinstance(control.cue, SongCue) and control.cue.loop is None
