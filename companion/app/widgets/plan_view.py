"""The intervention plan being run: what to do, how to grade it, what to watch, in collapsible parts."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Collapsible, Static

from interventions import Plan


def numbered(items: list[str]) -> str:
    return "\n".join(f"{n}. {item}" for n, item in enumerate(items, start=1))


def bulleted(items: list[str]) -> str:
    return "\n".join(f"• {item}" for item in items)


class PlanView(VerticalScroll, can_focus=False):
    """Title and summary, then Steps (open), Adaptations, Precautions, Materials and the data taps.

    It never takes focus itself, so the arrow keys stay with the session screen (tempo up/down). The
    screen showing it says what its keys do: `tempo_hint` follows a plan's tempo preset (the session
    loads it with p, the plans browser has no such key) and `empty` stands in for no plan.
    """

    def __init__(self, plan: Plan | None, *, empty: str, tempo_hint: str, id: str | None = None) -> None:
        super().__init__(id=id)
        self.plan = plan
        self.empty = empty
        self.tempo_hint = tempo_hint

    def compose(self) -> ComposeResult:
        plan = self.plan
        if plan is None:
            yield Static(self.empty, classes="plan-empty", markup=False)
            return
        heading = Text(plan.title, style="bold")
        heading.append(f"\n{plan.approach_label} · {', '.join(plan.domains)}", style="dim")
        heading.append(
            f"\nFor {', '.join(plan.populations)}; ages {plan.age_min}-{plan.age_max}", style="dim"
        )
        heading.append(f"\n{', '.join(plan.formats)} · {', '.join(plan.settings)}", style="dim")
        if plan.tempo is not None:
            heading.append(f"\n♩ {plan.tempo.summary()}  ({self.tempo_hint})")
        yield Static(heading, classes="plan-title")
        yield Static(plan.summary, classes="plan-summary", markup=False)
        with Collapsible(title="Steps", collapsed=False):
            yield Static(numbered(plan.steps), markup=False)
        with Collapsible(title="Adaptations"):
            yield Static(
                "Easier:\n"
                + bulleted(plan.adaptations.easier)
                + "\n\nHarder:\n"
                + bulleted(plan.adaptations.harder),
                markup=False,
            )
        with Collapsible(title="Precautions", collapsed=False):
            yield Static(bulleted(plan.precautions), markup=False)
        if plan.contraindications:  # apart and named: "do not use" is not "take care"
            with Collapsible(title="Contraindications: do not use when", collapsed=False):
                yield Static(bulleted(plan.contraindications), markup=False, classes="plan-contraindications")
        with Collapsible(title="Materials and data"):
            taps = [f"{tap.kind}: {tap.label}" for tap in plan.data]
            yield Static(bulleted(plan.materials) + "\n\nData taps:\n" + bulleted(taps), markup=False)

    async def show(self, plan: Plan | None, empty: str | None = None) -> None:
        """Show `plan`; with None, `empty` (if given) says why there is none."""
        empty = self.empty if empty is None else empty
        if plan is not self.plan or (plan is None and empty != self.empty):
            self.plan, self.empty = plan, empty
            await self.recompose()
            self.scroll_home(animate=False)
