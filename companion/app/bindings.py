"""The keys Companion declares, read from the classes themselves: help and the command palette list them
from here, so what a screen binds and what it says it binds never disagree."""

from __future__ import annotations

from textual.binding import Binding, BindingsMap
from textual.dom import DOMNode


def declared_bindings(node: DOMNode) -> list[Binding]:
    """The bindings Companion's own classes declare for a screen or the app (what help and the palette
    list), without Textual's built-in focus keys."""
    found: list[Binding] = []
    for cls in type(node).__mro__:
        declared = cls.__dict__.get("BINDINGS")
        if declared and cls.__module__.startswith("companion."):
            found += [b for bindings in BindingsMap(declared).key_to_bindings.values() for b in bindings]
    unique: dict[tuple[str, str], Binding] = {}
    for binding in found:
        unique.setdefault((binding.key, binding.action), binding)
    return list(unique.values())
