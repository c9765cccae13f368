"""Two live sessions of the real app on one data folder (two tabs, or a tab and a terminal): one plays.

Both apps run here under Textual's pilot with real MIDI outputs on the test JACK server, so the first
really opens its port; the second must open nothing, name the owner, and still log its taps.
"""

from __future__ import annotations

import os

import pytest
from support.jackd import find_ports
from support.pilot import app_for, log_lines, on_screen, start_session, until
from support.practice import Practice
from textual.pilot import Pilot
from textual.widgets import Static

from companion.app import CompanionApp
from companion.app.screens.dialogs import Confirm
from companion.app.screens.note_editor import SoapScreen
from companion.output_lock import OutputLock
from companion.record import Trial

pytestmark = pytest.mark.jack

JACK_MIDI = "mido.backends.rtmidi/UNIX_JACK"
SIZE = (120, 36)


async def end_session(pilot: Pilot[None]) -> None:
    """End (e), confirm, and wait for the note: what ending a session is for the therapist."""
    for key, then in (("e", Confirm), ("enter", SoapScreen)):
        await pilot.press(key)
        await on_screen(pilot, then)


def midi_app(practice: Practice, port: str) -> CompanionApp:
    return app_for(practice.data_dir, metronome_outputs="midi", midi_virtual=port)


async def test_a_second_session_is_told_who_plays_keeps_taking_data_and_plays_once_the_first_ends(
    jack_server: object, fresh_practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIDO_BACKEND", JACK_MIDI)
    first, second = midi_app(fresh_practice, "companion-first"), midi_app(fresh_practice, "companion-second")
    async with first.run_test(size=SIZE) as one, second.run_test(size=SIZE) as two:
        await start_session(one)  # Ava
        await one.press("space")
        await until(one, lambda: first.metronome.running)
        assert find_ports(":companion-first$", is_midi=True, is_output=True)
        owner = OutputLock.holder_of(fresh_practice.data_dir)
        assert owner is not None and owner.pid == os.getpid() and owner.origin == "a terminal"

        screen = await start_session(two, "down", "s")  # Ben
        await two.press("space")
        status = screen.query_one("#metro-status", Static)
        await until(two, lambda: "in use by the session started at" in str(status.render()))
        assert "(pid" in str(status.render()) and "Stop or close that session" in str(status.render())
        assert not second.metronome.running and not second.metronome.owns_outputs
        assert not find_ports(":companion-second$", is_midi=True, is_output=True), "nothing opened"
        assert OutputLock.holder_of(fresh_practice.data_dir) == owner

        logged = len(log_lines(second))
        await two.press("plus", "minus")
        await until(two, lambda: len(log_lines(second)) == logged + 2)
        session_two = screen.live.session.id

        await end_session(one)
        await until(one, lambda: OutputLock.holder_of(fresh_practice.data_dir) is None)
        assert not first.metronome.owns_outputs

        await two.press("space")
        await until(two, lambda: second.metronome.running)
        assert second.metronome.state().problems == {}
        assert find_ports(":companion-second$", is_midi=True, is_output=True)
        new_owner = OutputLock.holder_of(fresh_practice.data_dir)
        assert new_owner is not None and new_owner != owner
    assert OutputLock.holder_of(fresh_practice.data_dir) is None, "the app gives the outputs up when it exits"
    with fresh_practice.open() as record:
        trials = [
            e.payload for e in record.events.session_events(session_two) if isinstance(e.payload, Trial)
        ]
    assert [trial.correct for trial in trials] == [True, False]
