"""The JACK fixture itself: every JACK-based test relies on these facts holding."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.jack


def test_server_runs_at_the_requested_rate_and_period(jack_server):
    import jack

    client = jack.Client("fixture-check", servername=jack_server.name, no_start_server=True)
    try:
        assert client.samplerate == jack_server.samplerate == 48_000
        assert client.blocksize == jack_server.blocksize == 128
        names = [p.name for p in client.get_ports(is_audio=True, is_input=True, is_physical=True)]
        assert names == ["system:playback_1", "system:playback_2"]
    finally:
        client.close()


def test_portaudio_and_rtmidi_reach_the_test_server(jack_server):
    import rtmidi
    import sounddevice as sd

    hostapis = [api["name"] for api in sd.query_hostapis()]
    assert "JACK Audio Connection Kit" in hostapis
    out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="fixture-midi")
    try:
        out.open_virtual_port("probe")
        import jack

        client = jack.Client("fixture-check-midi", servername=jack_server.name, no_start_server=True)
        try:
            assert any(p.name.endswith(":probe") for p in client.get_ports(is_midi=True))
        finally:
            client.close()
    finally:
        out.close_port()
        del out
