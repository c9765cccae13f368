"""The OS keyring (Secret Service on Linux, the macOS Keychain, Windows Credential Locker) via `keyring`.

A data folder encrypted with `companion encrypt --keyring` keeps its random key here instead of deriving it
from a typed passphrase (see `keys`). This module only stores and fetches one secret string and turns the
backends' many failures into one: `KeyringUnavailable`, with a short reason for the message the therapist
sees. `keyring` is imported here only, and only when a folder uses it, so a plain or passphrase folder never
pays for probing D-Bus at start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend


class KeyringUnavailable(Exception):
    """No OS keyring answers (none installed or running, or it is locked); the message says which."""


def fetch(service: str, username: str) -> str | None:
    """The secret stored under `service`/`username`, or None when there is no such entry."""
    backend = _backend()
    try:
        return backend.get_password(service, username)
    except Exception as exc:  # backends raise their platform's errors (D-Bus, Keychain), not only keyring's
        raise KeyringUnavailable(_reason(exc)) from exc


def store(service: str, username: str, secret: str) -> None:
    """Store (or replace) the secret under `service`/`username`."""
    backend = _backend()
    try:
        backend.set_password(service, username, secret)
    except Exception as exc:  # as in `fetch`
        raise KeyringUnavailable(_reason(exc)) from exc


def _backend() -> KeyringBackend:
    """The keyring's backend, looked for again when none was found before: a keyring started after the app
    (the therapist unlocked the desktop session, then pressed retry) is then found without a restart."""
    import keyring
    import keyring.backend
    import keyring.backends.fail
    import keyring.core

    if isinstance(keyring.get_keyring(), keyring.backends.fail.Keyring):
        keyring.backend.get_all_keyring.reset()  # the backends that work are otherwise looked for once
        keyring.core.init_backend()
    return keyring.get_keyring()


def _reason(exc: Exception) -> str:
    from keyring.errors import NoKeyringError

    if isinstance(exc, NoKeyringError):
        return "none is installed or running"
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return f"{type(exc).__name__}: {first_line}"
