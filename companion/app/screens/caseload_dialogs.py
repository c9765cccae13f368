"""The caseload's dialogs on Today: add a client, add an objective (under a new or existing goal, with
its mastery criterion). What may be taken is decided in `companion.live.caseload_forms`."""

from __future__ import annotations

from collections.abc import Sequence

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Input, Label, Select, Static

from companion.app.screens.dialogs import Dialog
from companion.live.caseload_forms import NewClient, NewObjective, client_problem, objective_problem


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
        problem = client_problem(name, year, self.this_year)
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
        problem = objective_problem(description, goal_id == -1, goal_text, threshold, sessions)
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
