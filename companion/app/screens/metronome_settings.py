"""Everything the metronome can do beyond start/stop and tempo: meter, accents, subdivision, swing,
count-in, a ramp (linear, or +X% every N bars as RAS uses), where it plays (speaker, MIDI, both) and the
speaker's buffer (a larger one survives a busy machine, and the clicks stay exactly on time).

The values are checked by the tempo model itself (`TempoSettings`), so the dialog shows exactly the
engine's message ("ramp percent 80 is out of range: use -50..100") and never plays something else.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalGroup
from textual.widgets import Button, Input, Label, Select, Static

from audio.audio_output import Latency
from audio.tempo import LinearRamp, Ramp, StepRamp, TempoError, TempoSettings, TimeSignature, parse_accents
from companion.app.screens.dialogs import Dialog
from companion.live.metronome_transport import OUTPUTS

METERS = ("2/4", "3/4", "4/4", "5/4", "6/8", "7/8", "9/8", "12/8")
SUBDIVISIONS = (("1 per beat", 1), ("2 per beat", 2), ("triplets", 3), ("4 per beat", 4))
CODES = {"accent": "A", "beat": "B", "sub": "S", "silent": "-"}


LATENCIES: tuple[tuple[str, Latency], ...] = (("buffer: large (safe)", "high"), ("buffer: small", "low"))
"""The speaker's buffer: large is the default (clicks are scheduled ahead, so it costs no accuracy)."""


@dataclass(frozen=True)
class MetronomeChoice:
    settings: TempoSettings
    output: str
    latency: Latency


def _number(text: str, what: str) -> Fraction:
    try:
        return Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise TempoError(f"{what} must be a number, not {text!r}") from None


class MetronomeSettings(Dialog[MetronomeChoice]):
    SCROLLS = True  # about 34 rows: more than an 80x24 terminal, or 120x36 (Apply/Cancel stay in view)

    def __init__(self, settings: TempoSettings, output: str, latency: Latency) -> None:
        super().__init__("Metronome settings")
        self.settings = settings
        self.output = output
        self.latency = latency

    def body(self) -> ComposeResult:
        settings = self.settings
        ramp = settings.ramp
        meters = list(dict.fromkeys([*METERS, str(settings.meter)]))
        with VerticalGroup():
            yield Label("Plays on")
            latencies = list(LATENCIES)
            if self.latency not in [value for _, value in latencies]:
                latencies.append((f"buffer: {self.latency:g} s", self.latency))
            with Horizontal(classes="criterion"):
                yield Select([(o, o) for o in OUTPUTS], value=self.output, allow_blank=False, id="output")
                yield Select(latencies, value=self.latency, allow_blank=False, id="latency")
            with Horizontal(classes="criterion"):
                yield Input(f"{float(settings.bpm):g}", id="bpm", restrict=r"[0-9.]*", tooltip="bpm")
                yield Select(
                    [(m, m) for m in meters], value=str(settings.meter), allow_blank=False, id="meter"
                )
                yield Select(
                    list(SUBDIVISIONS), value=settings.subdivision, allow_blank=False, id="subdivision"
                )
            yield Static(  # wraps (a Label would be cut off at the dialog's edge)
                "Accents, one per beat: A accent, B beat, S soft, - silent (empty = the meter's default)"
            )
            yield Input(" ".join(CODES[level.value] for level in settings.levels), id="accents")
            with Horizontal(classes="criterion"):
                yield Label("Swing 0-0.5")
                yield Input(f"{float(settings.swing):g}", id="swing", restrict=r"[0-9.]*")
                yield Label("Count-in bars")
                yield Input(str(settings.count_in_bars), id="count-in", restrict=r"[0-9]*")
            yield Label("Ramp")
            kind = (
                "linear"
                if isinstance(ramp, LinearRamp)
                else "percent"
                if isinstance(ramp, StepRamp)
                else "none"
            )
            yield Select(
                [
                    ("none: steady tempo", "none"),
                    ("linear: to a tempo over N beats", "linear"),
                    ("percent: +X% every N bars (RAS)", "percent"),
                ],
                value=kind,
                allow_blank=False,
                id="ramp",
            )
            with Horizontal(classes="criterion"):
                yield Input(self._ramp_value("to_bpm"), placeholder="to bpm", id="to-bpm")
                yield Input(self._ramp_value("beats"), placeholder="over beats", id="beats")
            with Horizontal(classes="criterion"):
                yield Input(self._ramp_value("percent"), placeholder="percent", id="percent")
                yield Input(self._ramp_value("every_bars"), placeholder="every bars", id="every-bars")
                yield Input(self._ramp_value("max_bpm"), placeholder="up to bpm", id="max-bpm")
        yield self.footer(
            Static("", id="problem", classes="dialog-problem", markup=False), self.buttons("Apply (Enter)")
        )

    def _ramp_value(self, name: str) -> str:
        value = getattr(self.settings.ramp, name, None)
        return "" if value is None else f"{float(value):g}"

    def _text(self, widget_id: str) -> str:
        return self.query_one(f"#{widget_id}", Input).value.strip()

    def _ramp(self) -> Ramp | None:
        kind = self.query_one("#ramp", Select).value
        if kind == "linear":
            return LinearRamp(
                to_bpm=_number(self._text("to-bpm"), "to bpm"), beats=int(self._text("beats") or 0)
            )
        if kind == "percent":
            limit = self._text("max-bpm")
            return StepRamp(
                percent=_number(self._text("percent"), "percent"),
                every_bars=int(self._text("every-bars") or 0),
                max_bpm=_number(limit, "up to bpm") if limit else None,
            )
        return None

    def build(self) -> TempoSettings:
        """The settings as entered; raises TempoError with the tempo model's own message."""
        meter = TimeSignature.parse(str(self.query_one("#meter", Select).value))
        accents_text = self._text("accents")
        accents = parse_accents(accents_text, meter.beats) if accents_text else None
        return TempoSettings(
            bpm=_number(self._text("bpm"), "bpm"),
            meter=meter,
            accents=accents,
            subdivision=int(str(self.query_one("#subdivision", Select).value)),
            swing=_number(self._text("swing") or "0", "swing"),
            count_in_bars=int(self._text("count-in") or 0),
            ramp=self._ramp(),
            bpm_min=self.settings.bpm_min,
            bpm_max=self.settings.bpm_max,
        )

    @on(Select.Changed, "#meter")
    def _meter_changed(self) -> None:
        """A new meter has its own number of beats: start from its default accents."""
        self.query_one("#accents", Input).value = ""

    @on(Input.Submitted)
    @on(Button.Pressed, "#accept")
    def _accept(self) -> None:
        try:
            settings = self.build()
        except TempoError as problem:
            self.query_one("#problem", Static).update(str(problem))
            return
        latency = self.query_one("#latency", Select).value
        assert isinstance(latency, str | float)
        self.dismiss(MetronomeChoice(settings, str(self.query_one("#output", Select).value), latency))
