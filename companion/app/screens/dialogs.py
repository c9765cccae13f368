"""Small modal dialogs: each asks one thing, answers with `dismiss(value)` and is driven by one or two keys.

Every dialog closes with Escape (answer None) and accepts with Enter, so a therapist with one hand on an
instrument never needs the mouse; buttons are large enough to touch on a tablet.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalGroup, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from companion.live.session_controller import SessionRequest

T = TypeVar("T")


class ScrollingBox(VerticalScroll, can_focus=False):
    """The box of a dialog that can be taller than the screen: its title and footer (the buttons) are
    docked, so they stay in view while the rest scrolls. Focus moving to a field scrolls it into view,
    so Tab never needs to stop on the box itself."""


class Dialog(ModalScreen[T], Generic[T]):
    """A centred box with a title; Escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    SCROLLS: ClassVar[bool] = False
    """True for a dialog with more fields than a small screen has rows (80x24, or 120x36 with a large
    font): the box scrolls between its title and its footer (put the buttons in `footer`)."""

    def __init__(self, title: str) -> None:
        super().__init__()
        self.dialog_title = title

    def compose(self) -> ComposeResult:
        with (ScrollingBox if self.SCROLLS else Vertical)(classes="dialog"):
            yield Label(Text(self.dialog_title), classes="dialog-title")  # as written: titles hold names
            yield from self.body()

    @staticmethod
    def footer(*widgets: Widget) -> VerticalGroup:
        """What stays at the bottom of a scrolling dialog: its problem line and its buttons."""
        return VerticalGroup(*widgets, classes="dialog-footer")

    def body(self) -> ComposeResult:
        yield from ()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def buttons(self, accept: str, cancel: str = "Cancel") -> Horizontal:
        return Horizontal(
            Button(accept, id="accept", variant="primary"),
            Button(cancel, id="cancel"),
            classes="dialog-buttons",
        )

    @on(Button.Pressed, "#cancel")
    def _cancelled(self) -> None:
        self.dismiss(None)


class Confirm(Dialog[bool]):
    """A yes/no question whose buttons say what will happen."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("y", "yes", "Yes", show=False),
    ]

    def __init__(self, title: str, message: str, yes: str, no: str = "Cancel") -> None:
        super().__init__(title)
        self.message, self.yes, self.no = message, yes, no

    def body(self) -> ComposeResult:
        yield Static(self.message, classes="dialog-message", markup=False)
        yield self.buttons(self.yes, self.no)

    def on_mount(self) -> None:
        self.query_one("#accept", Button).focus()

    def action_yes(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)

    @on(Button.Pressed, "#accept")
    def _accepted(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def _refused(self) -> None:
        self.dismiss(False)


class TextPrompt(Dialog[str]):
    """One line of text (a note, a bpm); `check` returns an error message or None when the text is fine."""

    def __init__(
        self,
        title: str,
        placeholder: str = "",
        value: str = "",
        accept: str = "Save",
        check: Callable[[str], str | None] | None = None,
        restrict: str | None = None,
    ) -> None:
        super().__init__(title)
        self.placeholder, self.value, self.accept, self.check = placeholder, value, accept, check
        self.restrict = restrict

    def body(self) -> ComposeResult:
        yield Input(self.value, placeholder=self.placeholder, id="text", restrict=self.restrict)
        yield Static("", id="problem", classes="dialog-problem", markup=False)
        yield self.buttons(f"{self.accept} (Enter)")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#accept")
    def _accept(self) -> None:
        text = self.query_one(Input).value.strip()
        problem = (self.check(text) if self.check else None) if text else "Type something first, or Esc."
        if problem:
            self.query_one("#problem", Static).update(problem)
            return
        self.dismiss(text)


class FieldsPrompt(Dialog[tuple[str, ...]]):
    """Several lines of text in one go (an ABC entry); Enter moves on, and in the last field saves once
    every field has text."""

    def __init__(self, title: str, fields: Sequence[tuple[str, str]]) -> None:
        """`fields`: (label, placeholder) for each line, in order."""
        super().__init__(title)
        self.fields = list(fields)

    def body(self) -> ComposeResult:
        for index, (label, placeholder) in enumerate(self.fields):
            yield Label(label, markup=False)
            yield Input(placeholder=placeholder, id=f"field-{index}")
        yield Static("", id="problem", classes="dialog-problem", markup=False)
        yield self.buttons("Save (Enter)")

    def on_mount(self) -> None:
        self.query_one("#field-0", Input).focus()

    @on(Input.Submitted)
    def _next(self, event: Input.Submitted) -> None:
        index = int(str(event.input.id).removeprefix("field-"))
        if index + 1 < len(self.fields):
            self.query_one(f"#field-{index + 1}", Input).focus()
        else:
            self._accept()

    @on(Button.Pressed, "#accept")
    def _accept(self) -> None:
        values = tuple(self.query_one(f"#field-{i}", Input).value.strip() for i in range(len(self.fields)))
        missing = [label for (label, _), value in zip(self.fields, values, strict=True) if not value]
        if missing:
            self.query_one("#problem", Static).update(f"Fill in: {', '.join(missing)} (or Esc).")
            return
        self.dismiss(values)


class Pick(Dialog[T], Generic[T]):
    """Choose one of a list with arrows + Enter, a digit (1-9), or a touch. Returns the chosen value."""

    def __init__(
        self,
        title: str,
        choices: Sequence[tuple[str, T]],
        highlighted: int = 0,
        hint: str = "",
        first_number: int = 1,
    ) -> None:
        """`first_number`: the digit of the first choice, so that a list can keep numbers the user already
        knows (prompt levels 2-9, as on the pad and the shifted digits)."""
        super().__init__(title)
        self.choices = list(choices)
        self.highlighted = highlighted
        self.hint = hint
        self.first_number = first_number

    def body(self) -> ComposeResult:
        options = [
            Option(Content(f"{n}  {label}" if n <= 9 else f"   {label}"), id=str(index))
            for index, (label, _) in enumerate(self.choices)
            for n in [index + self.first_number]
        ]
        yield OptionList(*options, id="choices")
        if self.hint:
            yield Static(self.hint, classes="dialog-hint", markup=False)

    def on_mount(self) -> None:
        choices = self.query_one(OptionList)
        choices.highlighted = min(self.highlighted, max(len(self.choices) - 1, 0))
        choices.focus()

    def on_key(self, event: Any) -> None:
        if event.character and event.character.isdigit() and event.character != "0":
            index = int(event.character) - self.first_number
            if 0 <= index < len(self.choices):
                event.stop()
                self.dismiss(self.choices[index][1])

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.choices[int(event.option_id or 0)][1])


@dataclass(frozen=True)
class NewClient:
    display_name: str
    pseudonym: str | None
    birth_year: int | None
    population: str
    preferred_music: str


class AddClient(Dialog[NewClient]):
    """The few facts the app needs to start working with a new client; the rest can come later."""

    def __init__(self, this_year: int) -> None:
        super().__init__("Add a client")
        self.this_year = this_year

    def body(self) -> ComposeResult:
        with VerticalScroll(classes="form"):
            yield Label("Name or pseudonym (shown in the app)")
            yield Input(id="name", placeholder="e.g. Ava")
            yield Label("Pseudonym for de-identified exports (optional)")
            yield Input(id="pseudonym", placeholder="e.g. Client A")
            yield Label("Birth year (optional)")
            yield Input(id="birth-year", placeholder="e.g. 2017", restrict=r"[0-9]*", max_length=4)
            yield Label("Population / needs")
            yield Input(id="population", placeholder="e.g. autism, age 7")
            yield Label("Preferred music")
            yield Input(id="music", placeholder="e.g. Moana, loud drums")
        yield Static("", id="problem", classes="dialog-problem", markup=False)
        yield self.buttons("Add client")

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    def _value(self, widget_id: str) -> str:
        return self.query_one(f"#{widget_id}", Input).value.strip()

    @on(Input.Submitted)
    @on(Button.Pressed, "#accept")
    def _accept(self) -> None:
        name, year = self._value("name"), self._value("birth-year")
        problem = ""
        if not name:
            problem = "A client needs a name or pseudonym."
        elif year and not 1900 <= int(year) <= self.this_year:
            problem = f"Birth year {year} is not plausible: use 1900-{self.this_year}, or leave it empty."
        if problem:
            self.query_one("#problem", Static).update(problem)
            return
        self.dismiss(
            NewClient(
                name,
                self._value("pseudonym") or None,
                int(year) if year else None,
                self._value("population"),
                self._value("music"),
            )
        )


@dataclass(frozen=True)
class NewObjective:
    domain: str
    goal: str
    goal_id: int | None
    description: str
    metric: str
    threshold: float
    sessions: int
    at_most: bool


class AddObjective(Dialog[NewObjective]):
    """A measurable objective under a new or existing goal, with its mastery criterion."""

    def __init__(
        self,
        client_name: str,
        goals: Sequence[tuple[str, int]],
        domains: Sequence[str],
        metrics: Sequence[str],
    ) -> None:
        super().__init__(f"Add an objective for {client_name}")
        self.goals, self.domains, self.metrics = list(goals), list(domains), list(metrics)

    def body(self) -> ComposeResult:
        with VerticalScroll(classes="form"):
            yield Label("Goal")
            yield Select(
                [*self.goals, ("A new goal…", -1)], value=self.goals[0][1] if self.goals else -1, id="goal"
            )
            yield Label("New goal: domain and description")
            yield Select([(d, d) for d in self.domains], value=self.domains[0], id="domain")
            yield Input(id="goal-text", placeholder="e.g. Increase functional requests")
            yield Label("Objective (what the client will do)")
            yield Input(id="objective", placeholder="e.g. Requests an instrument with a 2-word phrase")
            yield Label("Mastery: metric, threshold, consecutive sessions")
            with Horizontal(classes="criterion"):
                yield Select(
                    [(m.replace("_", " "), m) for m in self.metrics], value=self.metrics[0], id="metric"
                )
                yield Input("80", id="threshold", restrict=r"[0-9.]*", max_length=6)
                yield Input("3", id="sessions", restrict=r"[0-9]*", max_length=2)
            yield Select(
                [("at least (higher is better)", False), ("at most (lower is better)", True)],
                value=False,
                id="direction",
            )
        yield Static("", id="problem", classes="dialog-problem", markup=False)
        yield self.buttons("Add objective")

    def on_mount(self) -> None:
        self.query_one("#objective", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#accept")
    def _accept(self) -> None:
        goal_id = self.query_one("#goal", Select).value
        goal_text = self.query_one("#goal-text", Input).value.strip()
        description = self.query_one("#objective", Input).value.strip()
        threshold, sessions = (
            self.query_one("#threshold", Input).value,
            self.query_one("#sessions", Input).value,
        )
        problem = ""
        if not description:
            problem = "Describe what the client will do."
        elif goal_id == -1 and not goal_text:
            problem = "Describe the new goal, or choose an existing one."
        elif not _is_number(threshold) or not sessions.isdigit() or int(sessions) < 1:
            problem = "The threshold must be a number and the sessions a whole number of at least 1."
        if problem:
            self.query_one("#problem", Static).update(problem)
            return
        self.dismiss(
            NewObjective(
                domain=str(self.query_one("#domain", Select).value),
                goal=goal_text,
                goal_id=None if goal_id == -1 else int(str(goal_id)),
                description=description,
                metric=str(self.query_one("#metric", Select).value),
                threshold=float(threshold),
                sessions=int(sessions),
                at_most=bool(self.query_one("#direction", Select).value),
            )
        )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class StartSession(Dialog[SessionRequest]):
    """Confirm whom the session is with, where, and which intervention opens it: Enter starts."""

    def __init__(
        self,
        client_ids: Sequence[int],
        names: str,
        settings: Sequence[str],
        setting: str,
        plans: Sequence[tuple[str, str]],
        plan_id: str | None,
    ) -> None:
        super().__init__(f"Start a session with {names}")
        self.client_ids = tuple(client_ids)
        self.settings = list(dict.fromkeys([setting, *settings])) if setting else list(settings)
        self.setting = setting
        self.plans = list(plans)
        self.plan_id = plan_id

    def body(self) -> ComposeResult:
        with Vertical(classes="form"):
            yield Label("Setting")
            yield Select(
                [(s, s) for s in self.settings], value=self.setting or self.settings[0], id="setting"
            )
            yield Label("Opening intervention")
            yield Select(
                [("none (choose later with i)", ""), *((title, pid) for title, pid in self.plans)],
                value=self.plan_id or "",
                id="opening-plan",  # not "plan": the stylesheet sizes #plan as the session's plan column
                allow_blank=False,
            )
        yield self.buttons("Start session (Enter)")

    def on_mount(self) -> None:
        self.query_one("#accept", Button).focus()

    @on(Button.Pressed, "#accept")
    def _accept(self) -> None:
        plan = str(self.query_one("#opening-plan", Select).value or "")
        self.dismiss(
            SessionRequest(self.client_ids, str(self.query_one("#setting", Select).value), plan or None)
        )
