"""Small modal dialogs: each asks one thing, answers with `dismiss(value)` and is driven by one or two keys.

Every dialog closes with Escape (answer None) and accepts with Enter, so a therapist with one hand on an
instrument never needs the mouse; buttons are large enough to touch on a tablet.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalGroup, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

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
