"""What a cue player reports, and how long its fades last: plain values its remote clients share.

They live apart from `audio.cue_player` so the UI process (`audio.engine_client`) can name them without
importing the player and the engine under it.
"""

from __future__ import annotations

from dataclasses import dataclass

from audio.cues import Cue

FADE_BARS = 2
"""A fade of the click or the music lasts two bars: smooth enough to hear, short enough for a one-key test."""


@dataclass(frozen=True)
class CueState:
    """What the session screen shows about the cue."""

    cue: Cue
    playing: bool
    """A groove or song is sounding (False for the click cue, while stopped and after the song's end)."""
    finished: bool
    """The song reached its end (no loop): the click, if on, plays on."""
    bar: int | None
    """The song bar being handed to the outputs (a look-ahead, ~0.1 s, before it sounds)."""
    music_gain: float
    """Where the music's fade is heading: 1 on, 0 faded out."""
    click_gain: float
    click_on: bool
    outputs: tuple[str, ...]
    """Where the music goes: "midi" and/or "audio" (the built-in synth)."""
    problem: str | None
