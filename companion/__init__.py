"""Companion: the music therapist's session companion.

`companion` composes the two libraries (`audio`, `interventions`) with the session record and the
Textual app. The libraries never import this package.
"""

__version__ = "0.1.0"
