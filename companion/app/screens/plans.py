"""The plans browser: filter by domain, technique and population, search, read a plan, start with it.

Opened from the Today screen it starts a session with the chosen plan; opened from a live session
(`i`) it returns the chosen plan, which the session logs as an intervention switch.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Header, Input, Label, OptionList, Select
from textual.widgets.option_list import Option

from companion.app.screens.base import CompanionScreen
from companion.app.screens.dialogs import Pick
from companion.app.screens.start_session import StartSession
from companion.app.screens.today import SETTINGS
from companion.app.widgets.plan_view import PlanView
from companion.live.session_controller import SessionRequest
from interventions import Approach, GoalDomain, Method, Plan, Technique

ANY = ""


class PlansScreen(CompanionScreen):
    """Browse the intervention library."""

    HELP_TITLE = "plans browser"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", "Search", key_display="/"),
        Binding("s", "use", "Start with plan"),
        Binding("f", "filters", "Filters", show=False),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, choose: bool = False) -> None:
        super().__init__()
        self.choose = choose
        self.shown: list[Plan] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="plans-body"):
            with Vertical(id="plan-filters"):
                yield Input(placeholder="/ search: words, title, id", id="search")
                yield Select(
                    [("any domain", ANY), *((d.value, d.value) for d in GoalDomain)],
                    value=ANY,
                    allow_blank=False,
                    id="domain",
                )
                yield Select(
                    [
                        ("any technique", ANY),
                        *((f"NMT {t.value}", t.value) for t in Technique),
                        *((a.value, a.value) for a in Approach if a is not Approach.NMT),
                        *((m.value, m.value) for m in Method),
                    ],
                    value=ANY,
                    allow_blank=False,
                    id="technique",
                )
                yield Input(placeholder="population, e.g. stroke", id="population")
                yield Label("", id="plan-count")
                yield OptionList(id="plan-list")
            yield PlanView(
                None,
                empty="Highlight a plan in the list to read it here.",
                tempo_hint="in the session, p loads it",
                id="plan-detail",
            )
        yield Footer()

    async def on_mount(self) -> None:
        self.title = "Choose an intervention" if self.choose else "Plans"
        self.sub_title = (
            "Enter switches to it (logged)" if self.choose else "Enter starts a session with a plan"
        )
        await self.refilter()
        self.query_one("#plan-list", OptionList).focus()

    @on(Input.Changed)
    @on(Select.Changed)
    async def refilter(self) -> None:
        library = self.services.library
        text = self.query_one("#search", Input).value.strip()
        domain = str(self.query_one("#domain", Select).value or "") or None
        technique = str(self.query_one("#technique", Select).value or "") or None
        population = self.query_one("#population", Input).value.strip() or None
        allowed = {p.id for p in library.filter(domain=domain, technique=technique, population=population)}
        ranked = library.search(text) if text else library.plans
        self.shown = [p for p in ranked if p.id in allowed]
        listing = self.query_one("#plan-list", OptionList)
        listing.clear_options()
        listing.add_options([Option(self._prompt(p), id=p.id) for p in self.shown])
        self.query_one("#plan-count", Label).update(f"{len(self.shown)} of {len(library.plans)} plans")
        if self.shown:
            listing.highlighted = 0  # its plan is shown when the highlight arrives
            return
        filtered = any((domain, technique, population))
        wanted = (f"“{text}”" + (" with these filters" if filtered else "")) if text else "these filters"
        await self.query_one(PlanView).show(
            None, f"No plan matches {wanted}. Change the search (/) or the filters (f)."
        )

    @staticmethod
    def _prompt(plan: Plan) -> Text:
        text = Text(plan.title, style="bold")
        tag = plan.technique.value if plan.technique is not None else plan.approach.value
        text.append(f"  {tag}", style="dim")
        return text

    @on(OptionList.OptionHighlighted, "#plan-list")
    async def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        await self.query_one(PlanView).show(self.services.library.get(event.option_id or ""))

    @on(OptionList.OptionSelected, "#plan-list")
    def _selected(self) -> None:
        self.action_use()

    @property
    def highlighted_plan(self) -> Plan | None:
        index = self.query_one("#plan-list", OptionList).highlighted
        return self.shown[index] if index is not None and index < len(self.shown) else None

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_filters(self) -> None:
        self.query_one("#domain", Select).focus()

    def action_back(self) -> None:
        if self.focused is not None and self.focused.id in ("search", "population"):
            self.query_one("#plan-list", OptionList).focus()
        else:
            self.dismiss(None)

    def action_use(self) -> None:
        plan = self.highlighted_plan
        if plan is None:
            return
        if self.choose:
            self.dismiss(plan.id)
            return
        clients = self.services.record.caseload.clients()
        if not clients:
            self.notify("Add a client on the Today screen first (a).", severity="warning")
            return

        def picked(client_id: int | None) -> None:
            if client_id is None:
                return
            name = next(c.display_name for c in clients if c.id == client_id)
            self.app.push_screen(
                StartSession(
                    (client_id,), name, SETTINGS, plan.settings[0].value, [(plan.title, plan.id)], plan.id
                ),
                self._start,
            )

        self.app.push_screen(
            Pick(f"Start “{plan.title}” with", [(c.display_name, c.id) for c in clients]), picked
        )

    def _start(self, request: SessionRequest | None) -> None:
        if request is not None:
            self.dismiss(None)
            self.companion.start_session(request)
