"""What `companion serve` prints: once it listens, the address to open (and a QR code for a tablet);
when Ctrl+C stops it, what stopped and that the data are saved.

The QR code is only worth its screen space when the address is meant for another device; on a loopback
bind the therapist opens the link on this computer. "Session" always means the therapy session: a
browser tab is a "browser tab", since closing one does not end the session running in it.
"""

from __future__ import annotations

from typing import TextIO

import segno


def announce(url: str, *, for_other_devices: bool, out: TextIO) -> None:
    """Print the address (with its token, if any) and, for other devices, the same address as a QR code."""
    out.write("Companion is being served to your browser.\n")
    out.write(f"  Open: {url}\n")
    if for_other_devices:
        out.write("  Or scan this code with the tablet's camera:\n")
        out.flush()
        segno.make(url).terminal(out=out, compact=True)
        out.write(
            "  Anyone with this address can open your session record: show it only to your own devices.\n"
        )
    out.write(
        "  Each browser tab runs its own copy of Companion; one at a time owns the audio/MIDI outputs, "
        "the others can log taps.\n"
        "Press Ctrl+C to stop serving (open browser tabs are closed and what they recorded is saved).\n"
    )
    out.flush()


def tabs_open(count: int) -> str:
    """E.g. "1 browser tab open", "0 browser tabs open"."""
    return f"{browser_tabs(count)} open"


def browser_tabs(count: int) -> str:
    return f"{count} browser tab{'' if count == 1 else 's'}"


def stopping(tabs: int, *, out: TextIO) -> None:
    """Said at once on Ctrl+C: the tabs' apps can take a few seconds to quit."""
    out.write("\nStopping Companion's server" + (f": closing {browser_tabs(tabs)}" if tabs else "") + "…\n")
    out.flush()


def stopped(tabs: int, killed: int, *, out: TextIO) -> None:
    """The last word: what stopped, that the data are saved, and where an open therapy session went."""
    out.write("Companion's server has stopped; browsers can no longer reach it.\n")
    if not tabs:
        out.write("  No browser tab was open: everything recorded is saved in the session record.\n")
        out.flush()
        return
    if tabs > killed:
        out.write(
            f"  {browser_tabs(tabs - killed)} closed: the app in each quit normally and saved what it "
            "recorded in the session record.\n"
        )
    if killed:
        out.write(
            f"  {browser_tabs(killed)} did not quit in time and had to be stopped: the entries shown "
            "there as saved are in the session record.\n"
        )
    out.write(
        "  A therapy session that was running in a tab is still open: the next time Companion opens, "
        "Today offers to resume it or end it.\n"
    )
    out.flush()
