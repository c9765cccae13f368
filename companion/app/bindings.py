"""The keys Companion declares, read from the classes themselves: help and the command palette list them
from here, so what a screen binds and what it says it binds never disagree."""

from __future__ import annotations

from textual.actions import parse
from textual.binding import Binding, BindingsMap
from textual.dom import DOMNode


def declared_bindings(node: DOMNode) -> list[Binding]:
    """The bindings Companion's own classes declare for a screen or the app (what help and the palette
    list), without Textual's built-in focus keys, nor those the node's `check_action` hides (a sign-out
    with nobody signed in, a co-signature for someone who is not a supervisor).

    In Textual's own order (the footer's): from the most basic class to the node's own, a class that
    declares a key again keeping its place; so a screen assembled from parts lists each part's keys
    together."""
    unique: dict[tuple[str, str], Binding] = {}
    for cls in reversed(type(node).__mro__):
        declared = cls.__dict__.get("BINDINGS")
        if declared and cls.__module__.startswith("companion."):
            for bindings in BindingsMap(declared).key_to_bindings.values():
                unique.update({(binding.key, binding.action): binding for binding in bindings})
    return [binding for binding in unique.values() if _offered(node, binding.action)]


def _offered(node: DOMNode, action: str) -> bool:
    """False only for an action of the node's own that its `check_action` hides now."""
    namespace, name, parameters = parse(action)
    return bool(namespace) or node.check_action(name, parameters) is not False
