"""A measure in one dialog: `M`, the value, Enter. Label and unit come from the plan or the objective.

A measure is a number a rating scale cannot hold: range of motion in degrees, a 10 m walk in seconds, a
vocal range in semitones, breaths per minute. The moment (before/during/after) is chosen like a rating's,
so a before/after pair reads as a change in the note rather than as a sum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, cast

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input, Label, Select

from companion.app.screens.dialogs import Dialog
from companion.live.tap_choices import MeasureChoice, measure_phase
from companion.record.payloads import RATING_PHASES, RatingPhase


@dataclass(frozen=True)
class MeasureResult:
    label: str
    value: float
    unit: str
    phase: RatingPhase


class MeasureDialog(Dialog[MeasureResult]):
    """Label (the plan's measures, or typed), value, unit and moment; Enter in the value logs it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, choices: Sequence[MeasureChoice], measured: set[str]) -> None:
        super().__init__("Measure")
        self.choices = list(choices)
        self.measured = measured

    def body(self) -> ComposeResult:
        first = self.choices[0] if self.choices else None
        if len(self.choices) > 1:
            options = [(escape(f"{c.label} ({c.unit})"), i) for i, c in enumerate(self.choices)]
            yield Select(options, value=0, allow_blank=False, id="choice")
        yield Label("What")
        yield Input(first.label if first else "", placeholder="e.g. shoulder flexion", id="label")
        yield Label("Value")
        yield Input(placeholder="a number, then Enter", id="value", restrict=r"[0-9.\-]*")
        yield Label("Unit")
        yield Input(first.unit if first else "", placeholder="e.g. degrees, s, m, breaths/min", id="unit")
        phases = [(phase, phase) for phase in RATING_PHASES]
        yield Select(phases, value=measure_phase(first, self.measured), allow_blank=False, id="phase")
        yield Label("Enter logs it · Esc cancels", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#value", Input).focus()

    @on(Select.Changed, "#choice")
    def _chosen(self, event: Select.Changed) -> None:
        choice = self.choices[int(str(event.value))]
        self.query_one("#label", Input).value = choice.label
        self.query_one("#unit", Input).value = choice.unit
        self.query_one("#phase", Select).value = measure_phase(choice, self.measured)

    @on(Input.Submitted)
    def _submitted(self, _event: Input.Submitted) -> None:
        label = self.query_one("#label", Input).value.strip()
        unit = self.query_one("#unit", Input).value.strip()
        try:
            value = float(self.query_one("#value", Input).value)
        except ValueError:
            self.notify("Type the value as a number.", severity="warning")
            return
        if not math.isfinite(value) or not label or not unit:
            self.notify("A measure needs what was measured, a number and its unit.", severity="warning")
            return
        phase = cast(RatingPhase, str(self.query_one("#phase", Select).value))
        self.dismiss(MeasureResult(label, value, unit, phase))
