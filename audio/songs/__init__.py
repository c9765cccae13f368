"""The demo songs shipped with Companion: public-domain tunes arranged by `scripts/make_demo_songs.py`.

A package (rather than a plain folder) so the .mid files travel inside the wheel as package data; see
README.md here for each song's source and licence.
"""

from __future__ import annotations

from pathlib import Path

DIRECTORY = Path(__file__).resolve().parent


def demo_song_paths() -> list[Path]:
    """Every shipped song file, sorted by name (demo data and first-run suggestions use these)."""
    return sorted(DIRECTORY.glob("*.mid"))
