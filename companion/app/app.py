"""The Companion Textual app: the screens a therapist moves through, and the services they share.

Start-up shows the Today screen at once and opens the record and the plan library in a worker, so the
app is interactive before the disk has answered. Every key of every screen is also a command in the
palette (ctrl+p) and a line in the help screen (?), generated from the same BINDINGS so they never
disagree. Disk work goes through `run_io` (a thread worker): a locked or full disk shows its message
and the screen carries on.

A record with staff opens on the sign-in screen instead of Today; signing out (ctrl+l) closes every screen
of the therapist before the next one signs in, so nobody sees another's caseload underneath.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from textual import work
from textual.app import App, CSSPathType, SystemCommand
from textual.binding import Binding, BindingType
from textual.notifications import SeverityLevel
from textual.screen import Screen

from companion.app.bindings import declared_bindings
from companion.app.screens.problem import StartupProblem
from companion.app.screens.sign_in import SignInScreen
from companion.app.screens.today import TodayScreen
from companion.live.config import DARK, AppConfig
from companion.live.services import Services
from companion.record import StorageError, UnknownRecord
from companion.record.access import NotPermitted, SignedIn, SignInRequired

if TYPE_CHECKING:
    from companion.live.metronome_control import MetronomeControl
    from companion.live.session_controller import LiveSession, SessionRequest

T = TypeVar("T")

LIGHT = "textual-light"
CLOSE_AT_EXIT_S = 5.0
"""How long quitting waits for the metronome's outputs to close."""
SIGN_OUT = "Sign out: the sign-in screen, for the next therapist"


class CompanionApp(App[None]):
    """Companion: today's clients, the live session, plans, review and notes."""

    TITLE = "Companion"
    CSS_PATH: ClassVar[CSSPathType | None] = [
        f"styles/{part}.tcss"
        for part in ("base", "today", "session", "note_editor", "plans", "review", "metronome_panel")
    ]
    """One stylesheet per part of the app; later ones win a tie, so the order is kept."""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark,f1", "help", "Help", key_display="?"),
        Binding("ctrl+t", "toggle_theme", "Light/dark", show=False),
        Binding("ctrl+l", "sign_out", "Sign out", show=False, tooltip=SIGN_OUT),
        Binding("ctrl+q", "quit", "Quit", show=False),
    ]

    def __init__(self, config: AppConfig | None = None) -> None:
        super().__init__()
        self.config = config or AppConfig()
        self.clock = self.config.clock
        self.services: Services | None = None
        self._metronome: MetronomeControl | None = None

    # -- start-up -----------------------------------------------------------------------------------
    def on_mount(self) -> None:
        self.theme = self.config.theme
        self.push_screen(TodayScreen())
        self.open_services()
        self.warm_up_engine()

    @work(thread=True, group="engine")
    def warm_up_engine(self) -> None:
        """Start the timing engine's process now, so the first metronome start costs no start-up."""
        self.metronome.warm_up()

    @work(thread=True, exclusive=True, group="services")
    def open_services(self) -> None:
        try:
            config = self.config
            services = Services.open(config.data_dir, config.backup_every, config.busy_timeout, config.key)
        except (StorageError, OSError) as problem:
            self.call_from_thread(self._startup_failed, problem)
            return
        self.call_from_thread(self._services_ready, services)

    def _services_ready(self, services: Services) -> None:
        self.services = services
        for warning in services.warnings:
            self.notify(warning, severity="warning", timeout=15)
        if services.record.staff.exist():  # a practice: nobody is signed in yet
            self.push_screen(SignInScreen())  # over the empty Today, closed at sign-in
            return
        for screen in self.screen_stack:
            if isinstance(screen, TodayScreen):
                screen.reload()

    def _startup_failed(self, problem: BaseException) -> None:
        self.push_screen(
            StartupProblem(str(problem), self.config.data_dir, self.config.key), self._after_problem
        )

    def _after_problem(self, retry: bool | None) -> None:
        if retry:
            self.open_services()
        else:
            self.exit()

    @property
    def metronome(self) -> MetronomeControl:
        """The app's one metronome, made on first use (it keeps its settings between sessions)."""
        if self._metronome is None:
            from companion.live.metronome_control import MetronomeControl

            self._metronome = MetronomeControl.from_config(self.config)
        return self._metronome

    # -- disk work off the UI thread --------------------------------------------------------------------
    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every notice is shown as plain text, whatever `markup` says: notices carry names, objectives,
        plan titles and paths as typed, which markup would garble, fail on ("Sam [/]") or act on
        ("[@click=app.quit]"). Screens' `notify` (markup by default) comes here too."""
        del markup  # no notice of Companion's is markup
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def run_io(
        self, work: Callable[[], T], then: Callable[[T], Any] | None = None, failure: str = ""
    ) -> None:
        """Run `work` in a thread; `then(result)` on the UI thread; a refused write is shown, not raised."""

        def run() -> None:
            try:
                result = work()
            except (StorageError, UnknownRecord, ValueError, NotPermitted, SignInRequired) as problem:
                message = (
                    problem.args[0] if isinstance(problem, UnknownRecord) and problem.args else str(problem)
                )
                self.call_from_thread(
                    self.notify, message, title=failure or None, severity="error", timeout=12
                )
                return
            if then is not None:
                self.call_from_thread(then, result)

        self.run_worker(run, thread=True, group="io")

    # -- signing in and out (a practice with staff) ----------------------------------------------------
    @property
    def record_open(self) -> bool:
        """Whether the record hands out client data: it is open, and solo or someone is signed in."""
        return self.services is not None and (
            self.services.record.staff.signed_in is not None or not self.services.record.staff.exist()
        )

    def signed_in(self, who: SignedIn) -> None:
        """The sign-in screen succeeded: Today, new and alone, with the caseload the record shows `who`."""
        self.call_later(self._open_caseload, who)

    async def _open_caseload(self, who: SignedIn) -> None:
        await self._close_screens()
        self.sub_title = who.signature
        await self.push_screen(TodayScreen())

    async def _close_screens(self) -> None:
        """Every screen but the base, closed (their workers are cancelled with them). Awaited: a screen
        still closing when the header changes would fail to show it."""
        while len(self.screen_stack) > 1:
            await self.pop_screen()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Sign out is offered (footer, help, palette) only while someone is signed in."""
        if action == "sign_out":
            return self.services is not None and self.services.record.staff.signed_in is not None
        return True

    async def action_sign_out(self) -> None:
        """Close every screen, sign the record out and show the sign-in screen; refused while a session
        runs or a note has changes not saved (they would be lost, or carry on under nobody's name)."""
        from companion.app.screens.note_editor import SoapScreen
        from companion.app.screens.session.screen import LiveSessionScreen

        services = self.services
        assert services is not None  # check_action offers it only once someone signed in
        if any(isinstance(screen, LiveSessionScreen) for screen in self.screen_stack):
            self.notify(
                "Not signed out: a session is running. End it first (e on its screen), then sign out.",
                severity="warning",
            )
            return
        if any(isinstance(screen, SoapScreen) and screen.unsaved for screen in self.screen_stack):
            self.notify(
                "Not signed out: the note has changes not saved yet. Save it (ctrl+s), then sign out.",
                severity="warning",
            )
            return
        await self._close_screens()
        # Disk work already started (a save) finishes first, under the name of whoever started it.
        await self.workers.wait_for_complete([w for w in self.workers if w.group == "io" and w.is_running])
        services.record.staff.sign_out()
        self.sub_title = ""
        self.clear_notifications()  # they may name the previous therapist's clients
        await self.push_screen(SignInScreen())

    # -- moving between screens ---------------------------------------------------------------------
    def start_session(self, request: SessionRequest) -> None:
        from companion.live.session_controller import LiveSession

        services = self.services
        assert services is not None
        self.run_io(
            lambda: LiveSession.start(
                services.record,
                request.client_ids,
                request.setting,
                request.plan_id,
                services.library,
                self.clock.now,
                request.second_observer_of,
            ),
            self.open_live_session,
            "The session could not start",
        )

    def resume_session(self, session_id: int) -> None:
        from companion.live.session_controller import LiveSession

        services = self.services
        assert services is not None
        self.run_io(
            lambda: LiveSession.resume(services.record, session_id, services.library, self.clock.now),
            self.open_live_session,
            "The session could not be resumed",
        )

    def open_live_session(self, live: LiveSession) -> None:
        from companion.app.screens.session.screen import LiveSessionScreen

        self.push_screen(LiveSessionScreen(live))

    def open_note(self, session_id: int, replace_screen: bool = False) -> None:
        """The note of a session: in place of the live session when it ends, or over the review."""
        from companion.app.screens.note_editor import SoapScreen

        if replace_screen:
            self.switch_screen(SoapScreen(session_id, done=self.back_to_today))
        else:
            self.push_screen(SoapScreen(session_id, done=self.pop_screen))

    def back_to_today(self) -> None:
        while len(self.screen_stack) > 2 and not isinstance(self.screen, TodayScreen):
            self.pop_screen()
        if isinstance(self.screen, TodayScreen):
            self.screen.reload()

    def action_plans(self) -> None:
        from companion.app.screens.plans import PlansScreen

        if self.record_open:
            self.push_screen(PlansScreen())

    def action_review(self, client_id: int | None = None) -> None:
        from companion.app.screens.review import ReviewScreen

        if self.record_open:
            self.push_screen(ReviewScreen(client_id))

    def action_help(self) -> None:
        from companion.app.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT if self.theme == DARK else DARK

    async def action_quit(self) -> None:
        """Quit, but never silently with taps that have not reached the disk."""
        from companion.app.screens.dialogs import Confirm

        record = self.services.record if self.services is not None else None
        pending = record.events.pending() if record is not None else []
        sync = record.events.sync if record is not None else None
        if not pending and not (sync is not None and sync.waiting):
            self.exit()
            return

        def answer(quit_anyway: bool | None) -> None:
            if quit_anyway:
                self.exit()

        if not pending and sync is not None:
            self.push_screen(
                Confirm(
                    "Entries not on the server yet",
                    f"{sync.waiting} entries are saved on this computer but have not reached the practice's "
                    f"server yet ({sync.problem or 'sending now'}). Quitting keeps them here, and Companion "
                    "sends them the next time it opens this record on this computer. To continue on another "
                    "computer, wait until the bar above the log clears, then quit.",
                    "Quit (sent next time)",
                    "Wait",
                ),
                answer,
            )
            return
        rescue = record.events.rescue_file if record is not None else None
        if rescue is not None:
            consequence, quit_label = (
                f"Quitting now keeps them in the rescue file {rescue}; Companion adds them to the record "
                "the next time it opens it.",
                "Quit (kept in rescue file)",
            )
        else:
            consequence, quit_label = "Quitting now loses them.", "Quit and lose them"
        self.push_screen(
            Confirm(
                "Entries not saved yet",
                f"{len(pending)} entries have not reached the database yet (they are retried every few "
                f"seconds). {consequence} Better: fix the cause shown in the log (free disk space, close the "
                "other program), wait until the log shows them saved, then quit.",
                quit_label,
                "Keep them",
            ),
            answer,
        )

    def on_unmount(self) -> None:
        if self._metronome is not None:
            # The one wait on the UI thread, at exit: the outputs must be given up before the process
            # ends, so that another session (a tab, a terminal) can play at once; a device that does not
            # close in time is left to the operating system.
            with contextlib.suppress(TimeoutError):
                self._metronome.close().result(timeout=CLOSE_AT_EXIT_S)
        if self.services is not None:
            # A failure here was already shown by the quit dialog; nothing more can be done at exit.
            with contextlib.suppress(StorageError):
                self.services.close()

    # -- command palette: every key of the current screen, plus navigation ----------------------------
    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand(
            "Toggle light/dark theme", "Switch between the light and dark theme", self.action_toggle_theme
        )
        yield SystemCommand(
            "Help: all keys", "List every key of this screen and of the app", self.action_help
        )
        if self.record_open:
            yield SystemCommand(
                "Plans browser", "Browse, filter and search intervention plans", self.action_plans
            )
            yield SystemCommand(
                "Review", "Sessions, notes and progress charts per client", self.action_review
            )
        if self.check_action("sign_out", ()):
            yield SystemCommand("Sign out", SIGN_OUT, self.action_sign_out)
        seen = set()
        for binding in declared_bindings(screen):
            if binding.action in seen or binding.action.startswith("app."):
                continue
            seen.add(binding.action)
            key = self.get_key_display(binding)
            yield SystemCommand(
                binding.description,
                f"{binding.tooltip or binding.description} (key: {key})",
                partial(screen.run_action, binding.action),
            )
