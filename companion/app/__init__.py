"""The Textual app a therapist keeps open during a session (run it with `companion`).

`CompanionApp(AppConfig(data_dir=...))` is the entry point; screens live in `companion.app.screens`,
widgets in `companion.app.widgets`, the stylesheets in `companion/app/styles/`. Business rules live
outside the UI, in `companion.live` (the session, metronome and listening) and the record and library
layers.
"""

from companion.app.app import CompanionApp
from companion.live.config import AppConfig
from companion.live.wall_clock import FixedClock, SystemClock

__all__ = ["AppConfig", "CompanionApp", "FixedClock", "SystemClock"]
