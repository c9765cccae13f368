"""What the client hears as the beat: the click, a drum groove or a song, and how a plan's preset picks one.

A cue is a plain description (`ClickCue`, `GrooveCue`, `SongCue`); `audio.cue_player.CuePlayer` plays it on
a running `Metronome`. Plans name their cue in the tempo preset (`cue = "click"`, a groove name such as
`"waltz"`, or `"preferred-song"` / `"preferred-song-2"` for a slot in the client's list of preferred songs);
`cue_from_preset` turns that name into a cue, falling back to something playable with a message when the
name or the song cannot be used, so a session never fails to start because of a cue.

`song_choices` is what the session screen offers: the client's preferred songs first ("client-preferred
music is usually the best choice"), then the demo songs, each loaded or with the reason it cannot be.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from audio.grooves import GROOVES, INTENSITIES, Groove, groove_for_meter
from audio.playback_cursor import PlaybackCursor
from audio.song import Loop, Song
from audio.song_file import SongError, load_song
from audio.songs import demo_song_paths
from audio.tempo import TempoError, TempoSettings, TimeSignature

PREFERRED_SONG = "preferred-song"
_SLOT = re.compile(rf"^{PREFERRED_SONG}(?:-(\d+))?$")


@dataclass(frozen=True)
class ClickCue:
    """The metronome's own click, nothing more."""

    name = "click"

    @property
    def summary(self) -> str:
        return "click"

    def __reduce__(self) -> str:
        """Unpickled as the one `CLICK`, so `cue is CLICK` holds for a cue back from the engine process."""
        return "CLICK"


@dataclass(frozen=True)
class GrooveCue:
    """A built-in drum groove at an intensity (1 soft and sparse - 3 full)."""

    groove: Groove
    intensity: int = 2

    def __post_init__(self) -> None:
        if self.intensity not in INTENSITIES:
            raise ValueError(f"intensity {self.intensity}: choose 1 (soft, few instruments), 2 or 3 (full)")

    @property
    def name(self) -> str:
        return self.groove.name

    @property
    def summary(self) -> str:
        return f"{self.groove.name} groove, intensity {self.intensity}"

    def cursor(self, meter: TimeSignature) -> PlaybackCursor:
        """An endless cursor for a session in `meter` (ValueError, with the groove to use, if it does not
        fit: see `groove_meter`)."""
        return self.groove.cursor(self.intensity, groove_meter(self.groove, meter))


def groove_meter(groove: Groove, session: TimeSignature) -> TimeSignature:
    """The meter `groove` plays in during a session in `session`: the session's, or the groove's own when a
    session bar holds a whole number of its bars of the same beat (a 2/4 march twice per 4/4 bar, as a march
    in common time is felt). ValueError naming the groove to use otherwise."""
    own = groove.signature
    if own is not None and own.unit == session.unit and session.beats % own.beats == 0:
        return own
    return groove.meter_for(session)


@dataclass(frozen=True, repr=False)
class SongCue:
    """A song from a MIDI file, from `start_bar`, optionally looping bars `loop`."""

    song: Song
    loop: Loop | None = None
    start_bar: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.start_bar <= self.song.bars:
            raise ValueError(f"bar {self.start_bar}: {self.song.title!r} has bars 1-{self.song.bars}")
        if self.loop is not None:
            self.song.loop_beats(self.loop)

    def __repr__(self) -> str:  # a song's repr lists every event
        return f"SongCue({str(self.song.path)!r}, loop={self.loop!r}, start_bar={self.start_bar})"

    @property
    def name(self) -> str:
        return self.song.title

    @property
    def summary(self) -> str:
        looped = f", looping {self.loop}" if self.loop else ""
        return f"{self.song.summary}{looped}"

    def cursor(self, meter: TimeSignature) -> PlaybackCursor:
        """A cursor counting the song's written beat, which the engine plays at its bpm."""
        return self.song.cursor(start_bar=self.start_bar, loop=self.loop)


Cue = ClickCue | GrooveCue | SongCue
CLICK = ClickCue()


def cue_meter(cue: Cue, session: TimeSignature) -> TimeSignature:
    """The meter the metronome should count for `cue` in a session in `session`, so the click's accents
    fall on the cue's bar lines: a song's own meter, a groove's when the session's does not fit it."""
    if isinstance(cue, SongCue):
        return cue.song.meter
    if isinstance(cue, GrooveCue):
        try:
            groove_meter(cue.groove, session)
        except ValueError:
            return cue.groove.signature or session
    return session


def settings_for_cue(settings: TempoSettings, cue: Cue) -> tuple[TempoSettings, str | None]:
    """`settings` in the cue's meter (a waltz song makes the metronome count 3/4), with a message when the
    meter cannot be played by the engine and the session's meter is kept."""
    current = settings.meter
    meter = cue_meter(cue, current)
    if meter == current:
        return settings, None
    try:
        return settings.with_changes(meter=meter), None
    except TempoError as exc:
        return (
            settings,
            f"{cue.name} is in {meter}, which the metronome cannot count ({exc}); kept {settings.meter}",
        )


# --- what the session screen offers ---------------------------------------------------------------


@dataclass(frozen=True)
class SongChoice:
    """One song the therapist may pick: loaded (`song`), or not, with `problem` naming file, cause and fix."""

    path: Path
    preferred: bool
    song: Song | None = None
    problem: str | None = None

    @property
    def label(self) -> str:
        """One line for a list: the song's summary, or its file name and why it cannot play."""
        star = "* " if self.preferred else ""
        if self.song is not None:
            return f"{star}{self.song.summary}"
        return f"{star}{self.path.name}: cannot play: {self.problem}"


def song_choices(preferred: Iterable[str | os.PathLike[str]], *, demos: bool = True) -> list[SongChoice]:
    """The client's preferred songs (in their order, `~` expanded), then the demo songs not already listed.

    Every file is loaded now, so a broken one shows its problem in the list instead of failing when picked;
    nothing here raises for a bad file.
    """
    choices: list[SongChoice] = []
    seen: set[Path] = set()
    paths = [(Path(path).expanduser(), True) for path in preferred]
    paths += [(p, False) for p in demo_song_paths()] if demos else []
    for path, is_preferred in paths:
        key = path.resolve()
        if key in seen:
            continue
        seen.add(key)
        try:
            choices.append(SongChoice(path, is_preferred, song=load_song(path)))
        except SongError as exc:
            choices.append(SongChoice(path, is_preferred, problem=str(exc)))
    return choices


# --- a plan's preset ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CueSelection:
    """The cue a preset asked for (or the fallback), and what the therapist should be told about it."""

    cue: Cue
    messages: tuple[str, ...] = ()


def cue_from_preset(
    name: str,
    *,
    meter: str | TimeSignature = "4/4",
    preferred_songs: Sequence[str | os.PathLike[str]] = (),
    intensity: int = 2,
) -> CueSelection:
    """The cue a plan's `cue` names, for a session in `meter` with the client's preferred songs.

    "click" is the click; a groove name is that groove (a groove written in another meter gives way to the
    meter's own groove); "preferred-song" is the first preferred song that loads, "preferred-song-N" the
    N-th. Whatever cannot be used falls back (a song to the meter's groove, an unknown name to the click)
    and says why in `messages`.
    """
    signature = TimeSignature.parse(meter) if isinstance(meter, str) else meter
    key = name.strip().lower()
    if key == CLICK.name:
        return CueSelection(CLICK)
    if key in GROOVES:
        groove = GROOVES[key]
        try:
            groove_meter(groove, signature)
        except ValueError:
            fitting = groove_for_meter(signature)
            return CueSelection(
                GrooveCue(fitting, intensity),
                (
                    f"the {key} groove is in {groove.signature} and the session in {signature}: "
                    f"playing the {fitting.name} groove",
                ),
            )
        return CueSelection(GrooveCue(groove, intensity))
    slot = _SLOT.match(key)
    if slot is None:
        known = ", ".join(["click", *GROOVES, PREFERRED_SONG])
        return CueSelection(CLICK, (f"unknown cue {name!r} in the plan (use {known}): playing the click",))
    return _preferred_song(int(slot.group(1) or 0), signature, preferred_songs, intensity)


def _preferred_song(
    slot: int, meter: TimeSignature, preferred: Sequence[str | os.PathLike[str]], intensity: int
) -> CueSelection:
    """Slot 0: the first preferred song that loads; slot N: the N-th preferred song."""
    fallback = GrooveCue(groove_for_meter(meter), intensity)
    instead = f"playing the {fallback.groove.name} groove"
    choices = song_choices(preferred, demos=False)
    if slot > len(choices) or not choices:
        have = f"only {len(choices)}" if choices else "no"
        wanted = f"song {slot}" if slot else "a song"
        add = "add the client's songs to their record (companion songs add CLIENT FILE)"
        return CueSelection(
            fallback,
            (
                f"the plan asks for preferred {wanted} but the client has {have} preferred songs: "
                f"{instead}; {add}",
            ),
        )
    picked = choices[slot - 1 : slot] if slot else choices
    problems: list[str] = []
    for choice in picked:
        if choice.song is not None:
            return CueSelection(SongCue(choice.song), tuple(problems))
        problems.append(f"preferred song {choice.problem}")
    return CueSelection(fallback, (*problems, f"no preferred song can play: {instead}"))
