"""What `companion serve` prints once it listens: the address to open, and a QR code for a tablet.

The QR code is only worth its screen space when the address is meant for another device; on a loopback
bind the therapist opens the link on this computer.
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
        "  Each browser tab runs its own session; one at a time owns the audio/MIDI outputs, "
        "the others can log taps.\n"
        "Press Ctrl+C to stop serving (open tabs close their sessions cleanly).\n"
    )
    out.flush()
