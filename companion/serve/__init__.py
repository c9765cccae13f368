"""Browser / tablet mode: `companion serve` runs the app in browser tabs through textual-serve.

`server` (the textual-serve subclass and how tabs launch the app), `access` (token, Host, Origin and
security headers), `addresses` (loopback or not; the address to announce), `page` (the hosting page),
`banner` (the printed address and QR code). Ownership of the audio/MIDI outputs between tabs and
terminals lives in `companion.output_lock`, because the app takes it whether served or not.
"""
