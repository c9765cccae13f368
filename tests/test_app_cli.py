"""`companion` as a therapist runs it: the real console script, a real data folder, no sound device."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.practice import Practice

from companion.app import AppConfig, CompanionApp
from companion.cli import main

COMPANION = str(Path(sys.executable).with_name("companion"))
HEADLESS = "textual.drivers.headless_driver:HeadlessDriver"


def screen_text(svg: str) -> str:
    """The characters of a Textual SVG screenshot, as one string."""
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


def test_the_app_starts_a_session_and_its_metronome_with_no_sound_device(
    practice: Practice, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("JACK_DEFAULT_SERVER", "MIDO_BACKEND")}
    env |= {
        "TEXTUAL_DRIVER": HEADLESS,
        "TEXTUAL_PRESS": "wait:2000,s,wait:800,enter,wait:1500,space,wait:1500",
        "TEXTUAL_SCREENSHOT": "7",
        "TEXTUAL_SCREENSHOT_LOCATION": str(tmp_path),
        "TEXTUAL_SCREENSHOT_FILENAME": "session.svg",
        "COLUMNS": "160",
        "LINES": "48",
        "JACK_DEFAULT_SERVER": f"companion-absent-{os.getpid()}",
        "JACK_NO_START_SERVER": "1",
    }
    args = [COMPANION, "--data-dir", str(practice.data_dir), "app", "--audio-device", "no-such-output-device"]
    run = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    shown = screen_text((tmp_path / "session.svg").read_text())
    assert "Session · Ava" in shown and "audio unavailable" in shown and "■ Stop" in shown
    with practice.open() as record:
        session = record.sessions.sessions(practice.ava)[-1]
        assert (
            session.ended_at is None
            and [e.kind for e in record.events.session_events(session.id)][-1] == "tempo"
        )


def test_without_a_terminal_companion_lists_its_commands_and_says_why(practice: Practice) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TEXTUAL_DRIVER"}
    plain = subprocess.run(
        [COMPANION], env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )
    assert plain.returncode == 0 and "Commands:" in plain.stdout and "needs a terminal" in plain.stderr
    explicit = subprocess.run(
        [COMPANION, "app"], env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )
    assert explicit.returncode == 1 and "companion serve" in explicit.stderr


def test_companion_passes_the_data_dir_and_options_to_the_app(
    practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[AppConfig] = []
    monkeypatch.setattr(CompanionApp, "run", lambda self: opened.append(self.config))
    runner = CliRunner(env={"TEXTUAL_DRIVER": HEADLESS})
    assert runner.invoke(main, ["--data-dir", str(practice.data_dir)]).exit_code == 0
    assert (
        runner.invoke(
            main, ["--data-dir", str(practice.data_dir), "app", "--output", "midi", "--light"]
        ).exit_code
        == 0
    )
    assert [(c.data_dir, c.metronome_outputs, c.theme) for c in opened] == [
        (practice.data_dir, "audio", "textual-dark"),
        (practice.data_dir, "midi", "textual-light"),
    ]
