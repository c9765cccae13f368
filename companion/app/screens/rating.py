"""A rating in two keys: `r`, then a digit (t = 10). Label and moment (before/during/after) are preset.

The moment defaults to "before" until this label was rated in the session, then "during"; b/d/a change
it. Scales other than 0-10 get an entry field instead of digit keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal
from textual.content import Content
from textual.widgets import Button, Input, Label, Select, Static

from companion.app.screens.dialogs import Dialog
from companion.documents.wording import num
from companion.live.tap_choices import RatingChoice, rating_phase
from companion.record.payloads import RATING_PHASES, RatingPhase

DIGIT_SCALE = (0.0, 10.0)


@dataclass(frozen=True)
class RatingResult:
    label: str
    value: float
    phase: RatingPhase
    scale: tuple[float, float]


class ValueButton(Button, can_focus=False):
    def __init__(self, value: float) -> None:
        super().__init__(num(value), classes="value")
        self.value = value


class RatingDialog(Dialog[RatingResult]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("b", "phase('before')", "Before", show=False),
        Binding("d", "phase('during')", "During", show=False),
        Binding("a", "phase('after')", "After", show=False),
        Binding("t", "rate(10)", "Ten", show=False),
    ]

    def __init__(self, choices: Sequence[RatingChoice], rated: Iterable[str] = ()) -> None:
        super().__init__("Rating")
        self.choices = list(choices)
        self.choice = self.choices[0]
        self.rated = set(rated)
        self.phase: RatingPhase = rating_phase(self.choice, self.rated)

    def body(self) -> ComposeResult:
        if len(self.choices) > 1:
            yield Select(
                [(Content(c.label), i) for i, c in enumerate(self.choices)],
                value=0,
                allow_blank=False,
                id="label",
            )
        yield Static("", id="scale", markup=False)
        with Horizontal(id="phases"):
            for phase in RATING_PHASES:
                yield Button(f"{phase[0]} {phase}", id=f"phase-{phase}", classes="phase")
        if self.choice.scale == DIGIT_SCALE:
            with Grid(id="values"):
                for value in range(11):
                    yield ValueButton(float(value))
            yield Label(
                "Keys: 0-9, t = 10 · b/d/a = before/during/after · Esc cancels", classes="dialog-hint"
            )
        else:
            yield Input(placeholder="value, then Enter", id="value", restrict=r"[0-9.\-]*")

    def on_mount(self) -> None:
        self._show()
        if self.query("#value"):
            self.query_one("#value", Input).focus()

    def _show(self) -> None:
        low, high = self.choice.scale
        self.query_one("#scale", Static).update(
            f"{self.choice.label} ({num(low)}-{num(high)}) · {self.phase}"
        )
        for phase in RATING_PHASES:
            self.query_one(f"#phase-{phase}", Button).set_class(phase == self.phase, "-selected")

    def on_key(self, event: Any) -> None:
        if event.character and event.character.isdigit() and self.choice.scale == DIGIT_SCALE:
            event.stop()
            self.action_rate(int(event.character))

    def action_phase(self, phase: str) -> None:
        self.phase = cast(RatingPhase, phase)
        self._show()

    def action_rate(self, value: float) -> None:
        low, high = self.choice.scale
        if low <= value <= high:
            self.dismiss(RatingResult(self.choice.label, float(value), self.phase, self.choice.scale))

    @on(Select.Changed, "#label")
    def _label_changed(self, event: Select.Changed) -> None:
        self.choice = self.choices[int(str(event.value))]
        self.phase = rating_phase(self.choice, self.rated)
        self._show()

    @on(Button.Pressed, ".phase")
    def _phase_pressed(self, event: Button.Pressed) -> None:
        self.action_phase(str(event.button.id).removeprefix("phase-"))

    @on(Button.Pressed, ".value")
    def _value_pressed(self, event: Button.Pressed) -> None:
        assert isinstance(event.button, ValueButton)
        self.action_rate(event.button.value)

    @on(Input.Submitted, "#value")
    def _typed(self, event: Input.Submitted) -> None:
        try:
            value = float(event.value)
        except ValueError:
            self.notify("Type a number.", severity="warning")
            return
        low, high = self.choice.scale
        if not low <= value <= high:
            self.notify(f"Use a value from {num(low)} to {num(high)}.", severity="warning")
            return
        self.action_rate(value)
