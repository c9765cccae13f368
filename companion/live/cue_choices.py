"""What the cue picker offers: the client's preferred songs first, then the shipped songs, then the grooves
that fit the session's meter, then the bare click.

"Client-preferred music is usually the best choice", so their songs lead the list. Every song file is
loaded while the list is built (`audio.cues.song_choices`), so a broken one is listed with the reason it
cannot play (file, what is wrong, the fix) rather than failing mid-session when it is picked. No Textual
here: the picker screen only shows these choices.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from audio.cues import CLICK, Cue, GrooveCue, SongCue, groove_meter, song_choices
from audio.grooves import GROOVES
from audio.tempo import TimeSignature


@dataclass(frozen=True)
class CueChoice:
    """One line of the picker: a cue that can play, or (`cue` None) a song file and why it cannot."""

    label: str
    cue: Cue | None
    problem: str | None = None

    def same_as(self, cue: Cue) -> bool:
        """This line plays `cue` (a song whatever its bar or loop, a groove whatever its intensity)."""
        mine = self.cue
        if isinstance(mine, SongCue) and isinstance(cue, SongCue):
            return mine.song.path == cue.song.path
        if isinstance(mine, GrooveCue) and isinstance(cue, GrooveCue):
            return mine.groove.name == cue.groove.name
        return mine is cue


def cue_choices(
    preferred_songs: Iterable[str | os.PathLike[str]], meter: TimeSignature, *, intensity: int = 2
) -> list[CueChoice]:
    """Preferred songs (marked *), shipped songs, the grooves `meter` can play, the click."""
    choices = [
        CueChoice(song.label, SongCue(song.song))
        if song.song is not None
        else CueChoice(song.label, None, song.problem)
        for song in song_choices(preferred_songs)
    ]
    for groove in GROOVES.values():
        try:
            shown = groove_meter(groove, meter)
        except ValueError:
            continue
        choices.append(CueChoice(f"{groove.name} groove ({shown})", GrooveCue(groove, intensity)))
    choices.append(CueChoice("click only", CLICK))
    return choices
