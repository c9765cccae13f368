"""The timing engine's own process: metronomes and cue players, driven by commands over a socket.

Run by `audio.engine_process.EngineProcess` as ``python -m audio.engine_host FD`` (FD: its end of a socket
pair). Everything that keeps time lives here: the tempo clock, the audio callback, the MIDI scheduler
thread, and the cue players feeding them. The app's interpreter, busy drawing, cannot delay any of it.

How the process is set up for time (each step falls back with a note in `Hello` when the OS refuses):
- realtime scheduling (SCHED_FIFO) for the whole process, so the normal-priority load of a busy machine
  cannot preempt a thread that holds the interpreter lock while the MIDI thread waits for it (the MIDI
  scheduler raises itself above the rest; the audio server's threads, our callback's among them, stay
  above both: a control thread busy building sounds must never delay the audio);
- memory locked (mlockall), so a click never waits on a page fault;
- automatic garbage collection off, objects alive after start-up (and at each start) frozen; the
  scheduler thread collects in gaps between deadlines instead (`audio.scheduler`), and the control
  thread after a metronome is closed.

Threads: the main thread reads commands, answers queries and applies posts at once; blocking commands
(opening devices, starting, closing) run in order on a control thread, so a query from the app's UI
never waits behind a sound card that takes a second to open. Listener events are sent as they come.
The process ends when its socket closes (the app quit or died).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import logging
import os
import pickle
import queue
import resource
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from audio import engine_protocol as p
from audio.cue_player import CuePlayer
from audio.engine import Metronome
from audio.engine_events import EngineEvent

log = logging.getLogger(__name__)

PROCESS_PRIORITY = 1
"""SCHED_FIFO priority of every thread here but the MIDI scheduler (3) and the audio callback (JACK's
client threads: 5 with jackd's defaults, higher on a tuned rig): the lowest realtime priority, so the
machine's normal load cannot preempt them, and they never preempt the audio."""
_MCL_CURRENT, _MCL_FUTURE = 1, 2
THREAD_STACK_BYTES = 512 * 1024
"""Stacks of the Python threads started here (the scheduler, the dispatcher, the control thread)."""


def raise_priority() -> str | None:
    """Realtime scheduling for this process (threads started later inherit it); a note when refused."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(PROCESS_PRIORITY))
    except (AttributeError, OSError) as exc:
        limit = resource.getrlimit(resource.RLIMIT_RTPRIO)[0]
        return (
            f"the timing engine runs without realtime priority ({exc}; rtprio limit {limit}): clicks may "
            "be late on a busy machine. Allow it with `@audio - rtprio 95` in /etc/security/limits.d/ "
            "(and add yourself to the audio group)"
        )
    return None


def lock_memory() -> str | None:
    """mlockall where the memlock limit allows the whole process; a note otherwise.

    Why not try anyway: with a limit below the process's size, MCL_FUTURE would make later allocations
    fail instead of merely paging."""
    limit = resource.getrlimit(resource.RLIMIT_MEMLOCK)[0]
    if os.geteuid() != 0 and limit != resource.RLIM_INFINITY:
        return (
            f"the timing engine's memory is not locked (memlock limit {limit // 1024} KiB): a page fault "
            "can delay a click. Allow it with `@audio - memlock unlimited` in /etc/security/limits.d/"
        )
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if libc.mlockall(_MCL_CURRENT | _MCL_FUTURE) != 0:
        return f"the timing engine's memory is not locked ({os.strerror(ctypes.get_errno())})"
    return None


def portable(error: BaseException) -> BaseException:
    """`error` if it survives pickling as itself, else an EngineFailure carrying its type and text."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return p.EngineFailure(f"{type(error).__name__}: {error}")
    return error


class Host:
    """The engine objects of one client, and the handlers of its commands."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._send_lock = threading.Lock()
        self._metronomes: dict[int, Metronome] = {}
        self._players: dict[tuple[int, int], CuePlayer] = {}
        self._control: queue.SimpleQueue[p.Call | p.Post | None] = queue.SimpleQueue()
        self._handlers: dict[type[p.Command], Callable[[Any], Any]] = {
            p.Build: self._build,
            p.Open: lambda c: self._metronome(c).open(),
            p.Start: lambda c: self._metronome(c).start(c.at),
            p.Stop: self._stop,
            p.Close: self._close,
            p.Reconnect: lambda c: self._metronome(c).reconnect(),
            p.SetTempo: lambda c: self._metronome(c).set_tempo(c.bpm, c.at),
            p.SetSettings: lambda c: self._metronome(c).set_settings(c.settings, c.at),
            p.SetClickGain: lambda c: self._metronome(c).set_click_gain(c.gain, c.over_beats),
            p.SetMuted: lambda c: self._metronome(c).set_muted(c.output, c.muted),
            p.GetStatus: lambda c: self._metronome(c).status(),
            p.GetTempoMap: lambda c: self._metronome(c).tempo_map,
            p.TimeOf: lambda c: self._metronome(c).time_of(c.beat),
            p.BeatAt: lambda c: self._metronome(c).beat_at(c.time),
            p.GetTimings: lambda c: self._metronome(c).timings(),
            p.AttachCue: self._attach,
            p.PlayCue: lambda c: self._player(c).play(c.cue),
            p.SeekCue: lambda c: self._player(c).seek(c.bar),
            p.LoopCue: lambda c: self._player(c).set_loop(c.loop),
            p.SetIntensity: lambda c: self._player(c).set_intensity(c.intensity),
            p.FadeMusic: lambda c: self._player(c).fade_music(c.out),
            p.FadeClick: lambda c: self._player(c).fade_click(c.out),
            p.LayerClick: lambda c: self._player(c).set_click(c.on),
            p.GetCueState: lambda c: self._player(c).state(),
            p.DetachCue: self._detach,
        }

    # --- the channel ------------------------------------------------------------------------------------

    def send(self, message: object) -> None:
        with self._send_lock:
            self._conn.send(message)

    def serve(self) -> None:
        """Until the client goes away: quick commands here, blocking ones on the control thread."""
        control = threading.Thread(target=self._control_loop, name="engine-control", daemon=True)
        control.start()
        try:
            while True:
                try:
                    envelope = self._conn.recv()
                except (EOFError, OSError):
                    break
                if isinstance(envelope.command, p.BLOCKING):
                    self._control.put(envelope)
                else:
                    self._run(envelope)
        finally:
            self._control.put(None)
            control.join(timeout=5)

    def _control_loop(self) -> None:
        while (envelope := self._control.get()) is not None:
            self._run(envelope)
        for handle in list(self._metronomes):  # the client is gone: leave no device open
            with contextlib.suppress(Exception):
                self._close(p.Close(handle))

    def _run(self, envelope: p.Call | p.Post) -> None:
        command = envelope.command
        try:
            value = self._handlers[type(command)](command)
        except Exception as exc:
            if isinstance(envelope, p.Call):
                self._reply(p.Failure(envelope.request, portable(exc)))
            else:
                log.exception("engine command %r failed; the engine carries on", command)
            return
        if isinstance(envelope, p.Call):
            self._reply(p.Reply(envelope.request, value))

    def _reply(self, message: p.Reply | p.Failure) -> None:
        try:
            self.send(message)
        except (OSError, ValueError):  # the client went away mid-answer
            pass
        except Exception as exc:  # a value that cannot be pickled: the caller still gets an answer
            self.send(p.Failure(message.request, p.EngineFailure(f"{type(exc).__name__}: {exc}")))

    # --- handlers -------------------------------------------------------------------------------------

    def _metronome(self, command: p.Command) -> Metronome:
        try:
            return self._metronomes[command.handle]
        except KeyError:
            raise p.EngineFailure(f"no metronome {command.handle} in the engine (closed?)") from None

    def _player(self, command: p.CueCommand) -> CuePlayer:
        try:
            return self._players[(command.handle, command.player)]
        except KeyError:
            raise p.EngineFailure(f"no cue player {command.player} in the engine (detached?)") from None

    def _build(self, command: p.Build) -> None:
        metronome = Metronome(
            command.settings,
            audio=command.audio,
            midi=command.midi,
            lookahead_s=command.lookahead_s,
            lead_s=command.lead_s,
            collect_garbage=True,
        )
        handle = command.handle

        def forward(event: EngineEvent) -> None:
            with contextlib.suppress(OSError, ValueError):
                self.send(p.Engine(handle, event))

        metronome.add_listener(forward)
        self._metronomes[handle] = metronome

    def _stop(self, command: p.Stop) -> None:
        """No collection here: the audio stream stays open between runs and needs the interpreter every
        period (a full collection took 10-15 ms, long enough for JACK xruns)."""
        self._metronome(command).stop()

    def _close(self, command: p.Close) -> None:
        for key in [key for key in self._players if key[0] == command.handle]:
            self._players.pop(key).close()
        metronome = self._metronomes.pop(command.handle, None)
        if metronome is not None:
            metronome.close()
        gc.collect()  # its devices are closed; what stays frozen since the last start is not scanned

    def _attach(self, command: p.AttachCue) -> None:
        player = CuePlayer(
            self._metronome(command),
            command.cue,
            midi=command.midi,
            audio=command.audio,
            fade_bars=command.fade_bars,
        )
        self._players[(command.handle, command.player)] = player

    def _detach(self, command: p.DetachCue) -> None:
        player = self._players.pop((command.handle, command.player), None)
        if player is not None:
            player.close()


def main(argv: list[str]) -> int:
    """Set the process up for time, say hello, serve the client until it goes away."""
    logging.basicConfig(level=logging.WARNING, format="engine: %(levelname)s %(name)s: %(message)s")
    conn = Connection(int(argv[0]))
    # With memory locked, a new thread's whole stack is faulted in when it starts, while the starting
    # thread holds the interpreter: 8 MiB (the default) kept the audio callback waiting for milliseconds.
    threading.stack_size(THREAD_STACK_BYTES)
    priority, memory = raise_priority(), lock_memory()
    gc.collect()
    gc.freeze()  # what start-up made is never scanned again
    gc.disable()
    host = Host(conn)
    notes = tuple(note for note in (priority, memory) if note is not None)
    host.send(p.Hello(os.getpid(), realtime=priority is None, memory_locked=memory is None, notes=notes))
    host.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
