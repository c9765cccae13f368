"""MIDI input through python-rtmidi, polled from a thread of ours and timed by the backend's delta times.

Used for every MIDI system but JACK (and on JACK when `Timestamps.BACKEND` is asked for); see
`audio.midi_input` for when each reader is chosen, `audio.jack_midi_reader` for why it polls rather than
registering a Python callback on rtmidi's thread.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import rtmidi

from audio.midi_hits import DeltaAnchor, Emit, Hit, MidiInputError, input_port, note_on

POLL_INTERVAL_S = 0.001


class RtMidiSource:
    """A python-rtmidi input, polled from a thread of ours and timed by the backend's delta times."""

    timing = "backend delta times anchored to perf_counter (one JACK period on rtmidi's JACK API)"

    def __init__(
        self, api: str | None, port: str | None, virtual: str | None, client_name: str, emit: Emit
    ) -> None:
        self._api, self._wanted, self._virtual = api, port, virtual
        self._client_name, self._emit = client_name, emit
        self._rt: Any = None
        self._probe: Any = None
        self._port_open = False
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self._anchor = DeltaAnchor()
        self.name = ""

    def _midi_in(self, name: str) -> Any:
        api_id = getattr(rtmidi, f"API_{self._api}", None) if self._api else rtmidi.API_UNSPECIFIED
        if api_id is None:
            raise MidiInputError(
                f"unknown MIDI API {self._api!r} in MIDO_BACKEND: use e.g. LINUX_ALSA or UNIX_JACK"
            )
        try:
            return rtmidi.MidiIn(rtapi=api_id, name=name, queue_size_limit=4096)
        except (rtmidi.RtMidiError, RuntimeError) as exc:
            raise MidiInputError(
                f"cannot open the {self._api or 'default'} MIDI system ({exc}): start it (e.g. JACK) "
                "or choose another with MIDO_BACKEND"
            ) from exc

    def open(self) -> None:
        self._rt = self._midi_in(self._client_name)
        try:
            if self._virtual is not None:
                try:
                    self._rt.open_virtual_port(self._virtual)
                except NotImplementedError as exc:
                    raise MidiInputError(
                        "this MIDI system has no virtual ports (Windows): create a loopMIDI port and "
                        "choose it by name"
                    ) from exc
                self.name = self._virtual
            else:
                self.name = input_port(self._wanted, self._rt.get_ports())
                self._probe = self._midi_in(f"{self._client_name} probe")
                self._open_port()
            self._rt.ignore_types(sysex=False, timing=False, active_sense=False)  # all carry deltas
        except BaseException:
            self.close()
            raise
        self._port_open = True
        self._stop.clear()
        self._poller = threading.Thread(target=self._poll, name="midi-in-rtmidi-poll", daemon=True)
        self._poller.start()

    def _open_port(self) -> None:
        self._rt.open_port(self._rt.get_ports().index(self.name))
        self._anchor = DeltaAnchor()  # deltas restart with the port

    def _poll(self) -> None:
        while not self._stop.is_set():
            message = self._rt.get_message()
            if message is None:
                time.sleep(POLL_INTERVAL_S)
                continue
            data, delta = message
            stamped = self._anchor.stamp(delta, time.perf_counter())
            note = note_on(data)
            if note is not None:
                self._emit(Hit(stamped, *note))

    def check(self) -> bool:
        if self._rt is None:  # the MIDI system itself was lost: start afresh
            try:
                self.open()
            except MidiInputError:
                return False
            return True
        if self._probe is None:
            return True  # a virtual port cannot be unplugged
        try:
            present = self.name in self._probe.get_ports()
            if present and not self._port_open:
                self._open_port()
            elif not present and self._port_open:
                self._rt.close_port()
        except (rtmidi.RtMidiError, RuntimeError, ValueError):  # e.g. the JACK server stopped
            self.close()
            return False
        self._port_open = present
        return present

    def close(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join()
            self._poller = None
        try:
            for rt in (self._rt, self._probe):
                if rt is not None:
                    rt.close_port()
                    rt.delete()
        finally:
            self._rt = self._probe = None
            self._port_open = False
