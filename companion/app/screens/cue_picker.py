"""Pick the musical cue mid-session: the client's songs first, then shipped songs, grooves and the click.

A thin `Pick` over `companion.live.cue_choices`: the current cue is highlighted, and a song that cannot
play stays in the list with its reason, so the therapist sees why rather than finding it missing.
"""

from __future__ import annotations

from collections.abc import Sequence

from audio.cues import Cue
from companion.app.screens.dialogs import Pick
from companion.live.cue_choices import CueChoice


class CuePicker(Pick[CueChoice]):
    """Returns the chosen line (its `cue` is None for a song that cannot play), or None on Esc."""

    def __init__(self, choices: Sequence[CueChoice], current: Cue) -> None:
        highlighted = next((n for n, choice in enumerate(choices) if choice.same_as(current)), 0)
        super().__init__(
            "Musical cue (* the client's songs)",
            [(choice.label, choice) for choice in choices],
            highlighted,
            "digit or Enter; Esc keeps the cue",
        )
