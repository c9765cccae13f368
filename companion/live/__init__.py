"""The live session without Textual: the session's taps, the metronome, listening and tap tempo.

`companion.app` (the Textual screens) and `companion.serve` drive these; they hold the rules, so the
same session runs from a test, the CLI or a screen. Nothing here imports Textual or `companion.app`.
"""
