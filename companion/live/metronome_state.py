"""What the metronome panel shows, as plain values: the state of the app's metronome, a loaded preset,
and the one-line description of its settings. No engine here: `MetronomeControl` builds these."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from audio.cue_state import CueState
from audio.cues import CLICK, Cue, SongCue
from audio.engine_process import ENGINE
from audio.tempo import MAX_BPM, MIN_BPM, LinearRamp, StepRamp, TempoSettings


@dataclass(frozen=True)
class PresetLoaded:
    """A plan's preset as loaded: the settings, the musical cue and what to tell the therapist about it."""

    settings: TempoSettings
    cue: Cue
    messages: tuple[str, ...] = ()


@dataclass(frozen=True)
class MetronomeState:
    """What the metronome panel shows."""

    running: bool
    settings: TempoSettings
    output: str
    problems: Mapping[str, str] = field(default_factory=dict)  # output -> why it is unavailable
    cue: Cue = CLICK
    music_on: bool = True
    """The plan's music plays (False: the therapist switched to the click alone)."""
    playing: CueState | None = None
    """What the cue player reports while the metronome has one: bar, fades, a cue that stopped."""
    loop_start: int | None = None
    """Bar A of a loop being marked (the next mark sets bar B)."""
    xruns: int = 0
    """Audio cycles the stream lost since it opened (clicks stay on their samples; a raised count says
    to choose the larger audio buffer)."""
    engine_notes: tuple[str, ...] = ()
    """How the timing engine runs when the OS refused it realtime priority or locked memory, with the fix."""

    @property
    def cue_line(self) -> str:
        if self.cue is CLICK:
            line = "cue: click"
        else:
            line = f"cue: {self.cue.summary}" + ("" if self.music_on else " (off: click only)")
        problem = [self.playing.problem] if self.playing is not None and self.playing.problem else []
        return " · ".join([line, *self.cue_marks, *problem])

    @property
    def cue_faded(self) -> bool:
        """Running, but the client hears no beat: the click faded out and the music off or faded too."""
        playing = self.playing
        if not self.running or playing is None or playing.click_gain > 0:
            return False
        return self.cue is CLICK or not self.music_on or playing.music_gain == 0

    @property
    def cue_marks(self) -> list[str]:
        """Where the cue is and what is faded, as short marks ("bar 5", "click faded")."""
        playing, marks = self.playing, []
        if playing is not None and playing.bar is not None and self.running and self.music_on:
            marks.append("ended" if playing.finished else f"bar {playing.bar}")
        if self.loop_start is not None:
            marks.append(f"loop A bar {self.loop_start}")
        if playing is not None:
            if playing.music_gain < 1 and self.cue is not CLICK:
                marks.append("music faded")
            if playing.click_gain < 1:
                marks.append("click faded")
        return marks

    @property
    def cue_short(self) -> str:
        """One short line for the 80-column strip: where the cue is, what is faded, then its name."""
        name = "click" if self.cue is CLICK else self.cue.name
        if self.cue is not CLICK and not self.music_on:
            name += " (off)"
        cue = self.cue
        looped = (
            [f"loop {cue.loop.first_bar}-{cue.loop.last_bar}"]
            if isinstance(cue, SongCue) and cue.loop
            else []
        )
        return "♪ " + " · ".join([*self.cue_marks, *looped, name])  # the marks first: a narrow strip cuts

    @property
    def bpm(self) -> float:
        return float(self.settings.bpm)

    @property
    def engine_problem(self) -> str | None:
        """Why the timing engine itself is not playing (its process died and is restarting), or None."""
        return self.problems.get(ENGINE)

    @property
    def silent(self) -> bool:
        """Running with no output: only the beat light shows the beat."""
        wanted = {"audio": ["audio"], "midi": ["midi"], "both": ["audio", "midi"], "none": []}[self.output]
        return all(name in self.problems for name in wanted)


class CueNotChanged(ValueError):
    """A cue control that cannot apply now; the message says why and what to press instead."""


def describe(settings: TempoSettings) -> str:
    """One line for the panel, e.g. "4/4 · accents A B B B · 2 per beat · count-in 1 bar"."""
    codes = {"accent": "A", "beat": "B", "sub": "S", "silent": "-"}
    parts = [str(settings.meter), "accents " + " ".join(codes[level.value] for level in settings.levels)]
    if settings.subdivision != 1:
        parts.append("triplets" if settings.subdivision == 3 else f"{settings.subdivision} per beat")
    if settings.swing:
        parts.append(f"swing {float(settings.swing):g}")
    if settings.count_in_bars:
        parts.append(f"count-in {settings.count_in_bars} bar" + ("s" if settings.count_in_bars > 1 else ""))
    ramp = settings.ramp
    if isinstance(ramp, LinearRamp):
        parts.append(f"ramp to {float(ramp.to_bpm):g} bpm over {ramp.beats} beats")
    elif isinstance(ramp, StepRamp):
        limit = f" to {float(ramp.max_bpm):g}" if ramp.max_bpm is not None else ""
        parts.append(f"ramp {float(ramp.percent):+g}% every {ramp.every_bars} bars{limit}")
    if settings.bpm_min is not None or settings.bpm_max is not None:
        parts.append(
            f"plan range {float(settings.bpm_min or MIN_BPM):g}-{float(settings.bpm_max or MAX_BPM):g}"
        )
    return " · ".join(parts)
