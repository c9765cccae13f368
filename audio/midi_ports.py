"""Choosing a MIDI port from the name a person typed, the same way for inputs and outputs.

Why one rule: a therapist types `--midi-port yamaha` or picks "Yamaha" in settings for the keyboard they
play on and the pad they tap on alike, so both directions must find the same port for the same words.
Only the error each side raises differs (an input problem stops listening, an output problem is an
`OutputError` the engine reports and carries on from), so the callers word the failure themselves.
"""

from __future__ import annotations

from collections.abc import Sequence


class PortNotFound(LookupError):
    """No port, or more than one, answers to `wanted`; `matches` lists the candidates (empty when none)."""

    def __init__(self, wanted: str | None, matches: Sequence[str]) -> None:
        super().__init__(f"no single MIDI port matches {wanted!r} (candidates: {list(matches)})")
        self.wanted = wanted
        self.matches = tuple(matches)


def resolve_port(wanted: str | None, available: Sequence[str]) -> str:
    """The port named `wanted`: exactly, else the only one containing it in any case; the first if None."""
    if wanted is None:
        if not available:
            raise PortNotFound(None, ())
        return available[0]
    if wanted in available:
        return wanted
    matches = [name for name in available if wanted.lower() in name.lower()]
    if len(matches) == 1:
        return matches[0]
    raise PortNotFound(wanted, matches)
