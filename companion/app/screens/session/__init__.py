"""The live session screen (`screen.LiveSessionScreen`) and its parts, each with its own keys: taps,
metronome (with tap tempo, RAS and the outputs), cues and listening."""
