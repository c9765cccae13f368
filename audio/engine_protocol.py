"""The typed channel between the app (or the CLI) and the timing engine's own process.

Why a process boundary: the audio callback and the MIDI scheduler are Python code, and in the app's
process they share one interpreter lock with the UI; a redraw, a garbage collection or a busy worker there
delayed clicks by milliseconds and cost audio cycles. In their own process nothing the app does can hold
them back (`audio.engine_host` runs it, `audio.engine_client` talks to it).

Commands go one way, events the other, each a small frozen dataclass pickled over a local socket pair. A
command that answers (`Call`) gets one `Reply` or `Failure` with its request number; a `Post` is applied in
order with no answer (tempo, fades, mutes: the client checks their values first, as the engine would).
Engine objects live in the engine process and are named by handles the client picks.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from audio.cues import Cue
from audio.engine_config import AudioConfig, Boundary, MidiConfig
from audio.engine_events import EngineEvent
from audio.song import Loop
from audio.tempo import TempoSettings

# --- commands: the client asks ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """Something for the metronome named `handle` (or the cue player named `player`)."""

    handle: int


@dataclass(frozen=True)
class Build(Command):
    """Make a metronome (nothing opens yet), as `audio.engine.Metronome(...)` would."""

    settings: TempoSettings
    audio: AudioConfig | None
    midi: MidiConfig | None
    lookahead_s: float
    lead_s: float


@dataclass(frozen=True)
class Open(Command):
    """Open the outputs; answers the list of `OutputProblem`s (blocking: a sound card takes a moment)."""


@dataclass(frozen=True)
class Start(Command):
    """Start at `at` (engine clock), or now plus the lead; answers beat 0's time."""

    at: float | None = None


@dataclass(frozen=True)
class Stop(Command):
    pass


@dataclass(frozen=True)
class Close(Command):
    """Stop, release the devices and forget the metronome (and its cue players)."""


@dataclass(frozen=True)
class Reconnect(Command):
    """Reopen the outputs that failed; answers the problems still left."""


@dataclass(frozen=True)
class SetTempo(Command):
    bpm: Fraction
    at: Boundary = Boundary.BEAT


@dataclass(frozen=True)
class SetSettings(Command):
    settings: TempoSettings
    at: Boundary = Boundary.BAR


@dataclass(frozen=True)
class SetClickGain(Command):
    """Fade the click to `gain` over `over_beats` beats, from the next beat."""

    gain: float
    over_beats: Fraction


@dataclass(frozen=True)
class SetMuted(Command):
    output: str
    muted: bool


@dataclass(frozen=True)
class GetStatus(Command):
    """Answers an `EngineStatus`."""


@dataclass(frozen=True)
class GetTempoMap(Command):
    """Answers the `TempoMap` of the current run (with the changes applied so far), or None."""


@dataclass(frozen=True)
class TimeOf(Command):
    """Answers the engine-clock time of a (fractional) beat of the current run, or None."""

    beat: Fraction


@dataclass(frozen=True)
class BeatAt(Command):
    """Answers the (fractional) beat sounding at an engine-clock time, or None."""

    time: float


@dataclass(frozen=True)
class GetTimings(Command):
    """Answers `audio.engine_config.Timings`: how the engine kept time in the current run."""


@dataclass(frozen=True)
class AttachCue(Command):
    """Attach cue player `player` to the metronome, playing `cue` (see `audio.cue_player.CuePlayer`)."""

    player: int
    cue: Cue
    midi: bool = True
    audio: bool = True
    fade_bars: int = 2


@dataclass(frozen=True)
class CueCommand(Command):
    """Something for cue player `player` of metronome `handle`."""

    player: int


@dataclass(frozen=True)
class PlayCue(CueCommand):
    cue: Cue


@dataclass(frozen=True)
class SeekCue(CueCommand):
    bar: int


@dataclass(frozen=True)
class LoopCue(CueCommand):
    loop: Loop | None


@dataclass(frozen=True)
class SetIntensity(CueCommand):
    intensity: int


@dataclass(frozen=True)
class FadeMusic(CueCommand):
    """Answers the gain the music heads for."""

    out: bool | None = None


@dataclass(frozen=True)
class FadeClick(CueCommand):
    """Answers the gain the click heads for."""

    out: bool | None = None


@dataclass(frozen=True)
class LayerClick(CueCommand):
    on: bool


@dataclass(frozen=True)
class GetCueState(CueCommand):
    """Answers a `CueState`."""


@dataclass(frozen=True)
class DetachCue(CueCommand):
    """End the cue's notes and detach it (blocking: waits for the scheduler to release them)."""


BLOCKING = (Build, Open, Start, Stop, Close, Reconnect, AttachCue, DetachCue)
"""Commands that may take a while (devices, joins): run in order on the engine's control thread, so
queries and posts from other threads of the app are answered meanwhile, as in one process."""


# --- envelopes -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """A command that answers: one `Reply` or `Failure` with the same `request` comes back."""

    request: int
    command: Command


@dataclass(frozen=True)
class Post:
    """A command applied in order with no answer."""

    command: Command


@dataclass(frozen=True)
class Reply:
    request: int
    value: Any


@dataclass(frozen=True)
class Failure:
    """The command raised: the same exception is raised in the client (or `EngineFailure` with its text
    when it cannot travel)."""

    request: int
    error: BaseException


# --- events: the engine tells ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Hello:
    """The engine process is ready; how it runs (said once, shown by `companion metronome`)."""

    pid: int
    realtime: bool
    memory_locked: bool
    notes: tuple[str, ...] = ()
    """Why realtime scheduling or memory locking was not had, with the fix."""


@dataclass(frozen=True)
class Engine:
    """A beat as it sounds, or an output problem, from metronome `handle`."""

    handle: int
    event: EngineEvent


class EngineFailure(RuntimeError):
    """An error from the engine process that could not travel as itself: its type's name and text."""
