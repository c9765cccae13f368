"""The tempo engine: an exact tempo model, sample-accurate audio clicks and drift-free MIDI.

A library: it never imports `textual` or `companion`, so it runs headless (`companion metronome`).
"""
