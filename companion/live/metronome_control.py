"""The app's one metronome: the therapist's settings, the cue, and what the panel shows (no Textual here).

It keeps the settings while the metronome is stopped or between sessions, loads a plan's tempo preset in
one call (its musical cue too: a groove or the client's preferred song instead of a bare click), and
shapes the cue mid-session (fades, intensity, loops, bars). The engine and cue player it drives, the
outputs it claims and the thread contract it keeps are `MetronomeTransport`'s: one lock for the state,
one control thread for the slow steps, so the UI never waits on a device. Only `start()` and
`reconnect()` wait for the outputs: the app calls them from a worker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from audio.cues import CLICK, Cue, GrooveCue, SongCue, cue_from_preset, settings_for_cue
from audio.engine_client import RemoteCuePlayer
from audio.grooves import INTENSITIES
from audio.song import Loop
from audio.tempo import MAX_BPM, MIN_BPM, Number, TempoSettings, check_bpm
from companion.live.metronome_state import CueNotChanged, MetronomeState, PresetLoaded
from companion.live.metronome_transport import MetronomeTransport
from companion.paths import data_dir as resolve_data_dir

if TYPE_CHECKING:
    from collections.abc import Callable

    from companion.live.config import AppConfig

PRESET_ONLY_KEYS = ("cue",)
"""Keys of a plan's tempo preset the click engine does not take (the cue is a groove or song choice)."""


class MetronomeControl(MetronomeTransport):
    """The therapist's controls over the metronome: tempo, presets, the cue and its shaping, the panel's
    state. Safe from any thread under `MetronomeTransport`'s contract: each method holds the one lock for
    what it changes and leaves the slow steps to the control thread."""

    loop_start: int | None = None
    """Bar A of a loop being marked: the next `mark_loop` sets bar B."""

    @classmethod
    def from_config(cls, config: AppConfig) -> MetronomeControl:
        return cls(
            config.metronome_outputs,
            audio_device=config.audio_device,
            midi_port=config.midi_port,
            midi_virtual=config.midi_virtual,
            audio_latency=config.audio_latency,
            shared_data_dir=resolve_data_dir(config.data_dir),
        )

    def start(self) -> MetronomeState:
        """Start playing (opening the outputs first); with no usable output, start the beat light only.
        Waits for the outputs to open: call it from a worker.

        Raises `OutputsInUse` (nothing opened) when another session owns the outputs, and
        `OutputLockError` when the data folder's lock file cannot be opened.
        """
        self._on_control_thread(self._start_now).result()
        return self.state()

    def reconnect(self) -> MetronomeState:
        """Try the chosen outputs again (a device was plugged back in); keeps playing if it was. Waits for
        the outputs to open: call it from a worker."""
        self._on_control_thread(self._reconnect_now).result()
        return self.state()

    # -- settings ----------------------------------------------------------------------------------
    def set_bpm(self, bpm: Number) -> TempoSettings:
        """A new tempo from the next beat (a running ramp ends); raises TempoError naming the range."""
        check_bpm(bpm)
        with self._lock:
            self.settings = self.settings.with_changes(bpm=Fraction(str(bpm)), ramp=None)
            engine = self._engine
            if engine is not None and self._running:
                engine.set_tempo(self.settings.bpm)
            return self.settings

    def nudge(self, delta: Number) -> TempoSettings:
        """Up or down by `delta` bpm from the tempo asked for last, kept within the engine's range and the
        plan's bpm_min/bpm_max.

        From the target, not the tempo sounding: a change only sounds from the next beat, so five quick
        presses must make five steps, not one. During a ramp the target is where the ramp has got to
        (the nudge ends the ramp there)."""
        with self._lock:
            low = self.settings.bpm_min if self.settings.bpm_min is not None else MIN_BPM
            high = self.settings.bpm_max if self.settings.bpm_max is not None else MAX_BPM
            base = self.current_bpm() if self.settings.ramp is not None else self.settings.bpm
            target = min(max(base + Fraction(str(delta)), Fraction(low)), Fraction(high))
            return self.set_bpm(target)

    def current_bpm(self) -> Fraction:
        """The tempo playing now (it moves during a ramp), else the set tempo."""
        with self._lock:
            engine = self._engine
            return engine.status().bpm if engine is not None and self._running else self.settings.bpm

    def change(self, settings: TempoSettings) -> TempoSettings:
        """Meter, accents, subdivision, swing, count-in or ramp: from the next bar line when running."""
        with self._lock:
            self.settings = settings
            engine = self._engine
            if engine is not None:
                engine.set_settings(settings)
            return settings

    def load_preset(self, preset: Mapping[str, Any], preferred_songs: Sequence[str] = ()) -> PresetLoaded:
        """A plan's tempo preset (`plan.tempo.as_engine_kwargs()`), as is: one action for the therapist.

        Its cue ("rock", "preferred-song"...) is chosen for this client's songs; a song that cannot play
        falls back to a groove and the messages say why. The metronome counts the cue's meter.
        """
        values = {k: v for k, v in preset.items() if k not in PRESET_ONLY_KEYS}
        settings = TempoSettings.from_mapping(values)
        selection = cue_from_preset(
            str(preset.get("cue", CLICK.name)), meter=str(settings.meter), preferred_songs=preferred_songs
        )
        with self._lock:
            self.change(settings)
            note = self.choose_cue(selection.cue)
            messages = (*selection.messages, *([note] if note else []))
            return PresetLoaded(self.settings, selection.cue, messages)

    def choose_cue(self, cue: Cue) -> str | None:
        """Play `cue` with the metronome counting its meter (a waltz song makes it count 3/4); returns why
        the meter was kept when the engine cannot count the cue's."""
        with self._lock:
            settings, note = settings_for_cue(self.settings, cue)
            if settings != self.settings:
                self.change(settings)
            self.set_cue(cue)
            return note

    def set_cue(self, cue: Cue) -> None:
        """Play `cue` (from the next bar line when running; otherwise at the next start)."""
        with self._lock:
            self.cue, self.music_on, self.loop_start = cue, True, None
            self._apply_cue()

    def toggle_music(self) -> bool:
        """The plan's music off (click alone) or back on; returns whether the music now plays."""
        with self._lock:
            self.music_on = not self.music_on
            self._apply_cue()
            return self.music_on

    def _apply_cue(self) -> None:
        """Under the lock: the player plays the wanted cue; a running metronome without one gets one."""
        player = self._player
        if player is not None:
            player.play(self._playing_cue())
        elif self._running and self.cue is not CLICK:
            self._on_control_thread(self._attach_player)

    # -- shaping the cue mid-session (issue 7): each takes effect at the next beat or bar line -------
    def fade_click(self) -> float:
        """Fade the click out over two bars (to test carry-over: does the client keep the beat?), or back
        in; returns the gain it is heading for."""
        with self._lock:
            self._need_running("fade the click")
            self._click_target = target = 0.0 if self._click_target > 0 else 1.0
            self._on_player(lambda player: player.fade_click(out=target == 0.0))
            return target

    def fade_music(self) -> float:
        """Fade the groove or song out over two bars, or back in; returns the gain it is heading for."""
        with self._lock:
            if self.cue is CLICK or not self.music_on:
                raise CueNotChanged(
                    "no groove or song is playing: choose one (K) or bring the music back (k)"
                )
            self._need_running("fade the music")
            self._music_target = target = 0.0 if self._music_target > 0 else 1.0
            self._on_player(lambda player: player.fade_music(out=target == 0.0))
            return target

    def change_intensity(self, step: int) -> int:
        """A groove softer (-1) or fuller (+1) from its next bar line, within 1-3; returns the intensity."""
        with self._lock:
            cue = self.cue
            if not isinstance(cue, GrooveCue):
                raise CueNotChanged(f"only a groove has an intensity, and the cue is {cue.summary}")
            intensity = min(max(cue.intensity + step, INTENSITIES[0]), INTENSITIES[-1])
            self.cue = replace(cue, intensity=intensity)
            if self._player is not None and self.music_on:
                self._player.set_intensity(intensity)
            return intensity

    def current_bar(self) -> int:
        """The song's bar playing now (handed to the outputs), or the bar it will start from."""
        with self._lock:
            cue = self._song("find a bar")
            playing = self._player.state() if self._player is not None and self._running else None
            if playing is not None and playing.bar is not None and self.music_on:
                return playing.bar
            return cue.start_bar

    def mark_loop(self) -> Loop | None:
        """One key for an A-B loop: the first mark is bar A (the bar playing), the second bar B and the
        song loops A-B from then on; a mark while looping ends the loop. Returns the loop now set."""
        with self._lock:
            cue = self._song("loop")
            if cue.loop is not None:
                self.set_loop(None)
                return None
            bar = self.current_bar()
            if self.loop_start is None:
                self.loop_start = bar
                return None
            loop = Loop(min(self.loop_start, bar), max(self.loop_start, bar))
            self.set_loop(loop)
            return loop

    def set_loop(self, loop: Loop | None) -> None:
        """Loop bars A-B of the song (None: play on to its end); a loop ahead or behind jumps into it at the
        next bar line. ValueError naming the song's bars."""
        with self._lock:
            cue = replace(self._song("loop"), loop=loop)
            self.cue, self.loop_start = cue, None
            if self._player is not None and self.music_on:
                self._player.set_loop(loop)

    def song_bars(self) -> int:
        """How many bars the song has (CueNotChanged when the cue is not a song)."""
        return self._song("go to a bar").song.bars

    def seek(self, bar: int) -> int:
        """Go to the song's `bar` at the next bar line (stopped or with the music off: start there)."""
        with self._lock:
            cue = self._song("go to a bar")
            moved = replace(cue, start_bar=bar)  # ValueError naming the song's bars
            player = self._player
            if player is not None and self._running and self.music_on:
                player.seek(bar)
            else:
                self.cue = moved
                if player is not None and self.music_on:
                    player.play(moved)
            return bar

    def _song(self, what: str) -> SongCue:
        cue = self.cue
        if not isinstance(cue, SongCue):
            raise CueNotChanged(f"only a song can {what}, and the cue is {cue.summary}: choose a song (K)")
        return cue

    def _need_running(self, what: str) -> None:
        if not self._running:
            raise CueNotChanged(f"start the metronome (space) to {what}")

    def _on_player(self, change: Callable[[RemoteCuePlayer], object]) -> None:
        """Under the lock: apply `change` to the cue player now, or (the cue was the bare click) attach one
        on the control thread, which applies what was asked meanwhile. Whether to attach is decided here,
        as the change is asked while running: a stop asked a moment later must not undo it (the player
        then waits on the stopped engine, as it would had it been attached first)."""
        player = self._player
        if player is not None:
            change(player)
        elif self._running:
            self._on_control_thread(self._attach_player)

    def state(self) -> MetronomeState:
        with self._lock:
            player = self._player
            return MetronomeState(
                self._running,
                self.settings,
                self.output,
                dict(self._problems),
                self.cue,
                self.music_on,
                player.state() if player is not None else None,
                self.loop_start,
                self._xruns,
                self._engine_notes(),
            )

    def _engine_notes(self) -> tuple[str, ...]:
        engine = self._engine
        hello = engine.process.hello if engine is not None else None
        return hello.notes if hello is not None else ()
