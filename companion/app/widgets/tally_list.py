"""The objective being worked and the running figures of every objective of the selected client."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

from companion.live.tallies import Tally


class ObjectiveBar(Static):
    """ "Objective 1/2 · Requests an instrument with a 2-word phrase" and its tally, large and first."""

    def show(self, tally: Tally | None, position: int, total: int, client: str = "") -> None:
        text = Text()
        if client:
            text.append(f"{client} · ", style="bold")
        if tally is None or tally.objective is None:
            text.append("No objective: taps are kept as general data for this client", style="italic")
            self.update(text)
            return
        text.append(f"Objective {position}/{total}  ", style="bold")
        text.append(tally.objective.description)
        text.append("\n")
        text.append(tally.headline(), style="bold")
        self.update(text)


class TallyList(Static):
    """One line per objective (the selected one highlighted): what the therapist glances at mid-session."""

    def show(self, tallies: Sequence[Tally], selected: int | None) -> None:
        text = Text()
        for tally in tallies:
            current = tally.objective is not None and tally.objective.id == selected
            text.append("▸ " if current else "  ", style="bold")
            text.append(tally.label, style="bold" if current else "")
            text.append(f"\n    {tally.headline()}\n", style="" if current else "dim")
        self.update(text)
