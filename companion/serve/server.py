"""`companion serve`: the Companion app in a browser tab (a tablet beside the instrument), via textual-serve.

textual-serve starts one app process per browser websocket, running the same `companion` command a
terminal would, so each tab is a full, independent copy of the app on the shared data folder. This
subclass adds what a clinic needs on top: the access rules of `access.py` in front of every route, a
page that loads nothing from the internet, URLs built from the address the browser actually used (a
tablet reaches the server by its LAN address, not by the `0.0.0.0` it is bound to), each tab's origin
passed to its app process (for the audio/MIDI ownership message, see `companion.output_lock`), the
address printed only once the port is really listening, and a shutdown that lets every tab's app quit
cleanly instead of killing it, then says what stopped.

Its log says "browser tab", never "session": to a therapist a session is the therapy session, which a
closed tab leaves open (Today offers to resume or end it on the next visit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import signal
import subprocess
import sys
from asyncio.subprocess import Process
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import WSCloseCode, web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from companion.output_lock import ORIGIN_ENV
from companion.serve.access import TOKEN_ENV, AccessPolicy, access_middleware, add_security_headers, new_token
from companion.serve.addresses import LOOPBACK_NAMES, address_to_announce, http_url, is_loopback
from companion.serve.banner import announce, stopped, stopping, tabs_open
from companion.serve.page import TEMPLATE_NAME, page_loader

log = logging.getLogger("companion.serve")

DEFAULT_PORT = 8000
DEFAULT_FONT_SIZE = 16
APP_EXIT_SECONDS = 10.0
"""How long a tab's app gets to quit by itself (flush the record, release the outputs) once asked."""
SHUTDOWN_EXTRA_SECONDS = 5.0
"""On Ctrl+C the server waits for every tab's app to quit: their quit time plus this margin."""


class ServeError(Exception):
    """The server cannot start; the message names the cause and the fix."""


def companion_command(data_dir: Path | None) -> str:
    """The shell command each tab runs: this Python's `companion` CLI, on the same data folder.

    textual-serve runs it through the shell; on POSIX `exec` makes the app the tab's process itself, so
    no shell sits in between when the server stops it. `-P` keeps the current directory off the import
    path, so a folder that happens to be named `companion` there can never stand in for the app.
    """
    argv = [sys.executable, "-P", "-c", "from companion.cli import main; main(prog_name='companion')"]
    if data_dir is not None:
        argv += ["--data-dir", str(data_dir)]
    return subprocess.list2cmdline(argv) if os.name == "nt" else "exec " + shlex.join(argv)


def access_for_bind(host: str, token: str | None) -> AccessPolicy:
    """Loopback binds answer only loopback names, token optional; any other bind always needs a token."""
    if is_loopback(host):
        return AccessPolicy(token=token, allowed_hosts=LOOPBACK_NAMES | {host.strip("[]").lower()})
    return AccessPolicy(token=token or new_token(), allowed_hosts=None)


def tab_origin(remote: str | None) -> str:
    """How a tab's app names itself to other Companion windows ("a browser tab on 192.168.1.20")."""
    if remote is None:
        return "a browser tab"
    return "a browser tab on this computer" if is_loopback(remote) else f"a browser tab on {remote}"


class TabAppService(AppService):
    """One tab's app process, with that tab's own environment, stopped only once it has really exited."""

    def __init__(
        self, command: str, *, environment: dict[str, str], exit_seconds: float, **kwargs: Any
    ) -> None:
        super().__init__(command, **kwargs)
        self._tab_environment = environment
        self._exit_seconds = exit_seconds
        self.killed = False
        """The app did not quit within `exit_seconds` of being asked, and was killed."""

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        """The server's environment without the access token (the app has no use for it), plus the tab's."""
        inherited = super()._build_environment(width=width, height=height)
        inherited.pop(TOKEN_ENV, None)
        return {**inherited, **self._tab_environment}

    async def stop(self) -> None:
        """Ask the app to quit and wait for its process to end; kill it if it has not within the limit
        (`killed` says so).

        textual-serve stops waiting when the app's output ends, which is before the process has exited
        (the app may still be flushing its record), and would wait forever for an app that hangs.
        """
        process = self._process
        if process is None:
            return
        quitting = asyncio.ensure_future(self._quit(process))
        await asyncio.wait([quitting], timeout=self._exit_seconds)
        if not quitting.done() and process.returncode is None:
            log.warning(
                "a tab's app (pid %d) did not quit in %.0f s; killing it", process.pid, self._exit_seconds
            )
            self.killed = True
            process.kill()
        await quitting

    async def _quit(self, process: Process) -> None:
        await super().stop()
        if process.stdin is not None:
            process.stdin.close()  # ends the app's input thread, which would otherwise keep it alive
        await process.wait()


class CompanionServer(Server):
    """textual-serve's Server with Companion's access rules, page, per-tab environment and clean stop."""

    def __init__(
        self,
        command: str,
        *,
        host: str,
        port: int,
        policy: AccessPolicy,
        font_size: int = DEFAULT_FONT_SIZE,
        app_exit_seconds: float = APP_EXIT_SECONDS,
    ) -> None:
        super().__init__(command, host=host, port=port, title="Companion")
        self.policy = policy
        self.font_size = font_size
        self.app_exit_seconds = app_exit_seconds
        self.public_url = http_url(address_to_announce(host), port)
        self._open_tabs: set[web.WebSocketResponse] = set()
        self._ending_tabs: set[asyncio.Future[None]] = set()
        self.tabs_killed = 0
        """Tabs whose app did not quit in time and was killed (those at Ctrl+C are said on stopping)."""

    @property
    def url(self) -> str:
        """The address to open, with the token when one is required."""
        return f"{self.public_url}/?token={self.policy.token}" if self.policy.token else f"{self.public_url}/"

    @property
    def open_tabs(self) -> int:
        return len(self._open_tabs)

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        aiohttp_jinja2.setup(app, loader=page_loader(self.templates_path))
        app.middlewares.append(access_middleware(self.policy))
        app.on_response_prepare.append(add_security_headers)
        app.on_cleanup.append(self.on_cleanup)
        return app

    async def on_startup(self, app: web.Application) -> None:
        """Nothing: the address is announced only once the port is actually listening (see `serve`)."""

    async def on_shutdown(self, app: web.Application) -> None:
        """Close every tab's websocket, which tells its app process to quit normally."""
        await asyncio.gather(
            *(
                tab.close(code=WSCloseCode.GOING_AWAY, message=b"Companion server stopped")
                for tab in list(self._open_tabs)
            ),
            return_exceptions=True,
        )

    async def on_cleanup(self, app: web.Application) -> None:
        """Wait for tabs whose apps are still quitting (their handlers may have been cancelled)."""
        await asyncio.gather(*self._ending_tabs, return_exceptions=True)

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        """The page, with its websocket and static URLs on the host and scheme the browser used."""
        served = f"{request.scheme}://{request.host}"
        websocket_scheme = "wss" if request.scheme == "https" else "ws"
        context = {
            "font_size": to_int(request.query.get("fontsize", ""), self.font_size),
            "app_websocket_url": f"{websocket_scheme}://{request.host}/ws",
            "config": {"static": {"url": f"{served}/static/"}},
            "application": {"name": self.title},
        }
        return aiohttp_jinja2.render_template(TEMPLATE_NAME, request, context)

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """Run one app process for this tab for as long as its websocket is open."""
        websocket = web.WebSocketResponse(heartbeat=15)
        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        await websocket.prepare(request)
        origin = tab_origin(request.remote)
        app_service = TabAppService(
            self.command,
            environment={ORIGIN_ENV: origin},
            exit_seconds=self.app_exit_seconds,
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=websocket.close,
            download_manager=self.download_manager,
            debug=self.debug,
        )
        self._open_tabs.add(websocket)
        log.info("%s connected (%s)", origin, tabs_open(self.open_tabs))
        try:
            await app_service.start(width, height)
            await self._process_messages(websocket, app_service)
        except Exception:
            log.exception("the app in %s failed", origin)
        finally:
            # Shielded and tracked: even if this handler is cancelled (a dropped connection), the app is
            # still stopped, and the server does not exit before it is.
            ending = asyncio.ensure_future(self._end_tab(websocket, app_service, origin))
            self._ending_tabs.add(ending)
            ending.add_done_callback(self._ending_tabs.discard)
            await asyncio.shield(ending)
        return websocket

    async def _end_tab(
        self, websocket: web.WebSocketResponse, app_service: TabAppService, origin: str
    ) -> None:
        await app_service.stop()
        self.tabs_killed += app_service.killed
        self._open_tabs.discard(websocket)
        await websocket.close()
        log.info("%s closed: its app has quit (%s)", origin, tabs_open(self.open_tabs))

    def serve(self, debug: bool = False) -> None:
        """Listen until Ctrl+C or SIGTERM; raise ServeError if the address cannot be used."""
        self.debug = debug
        self.initialize_logging()
        asyncio.run(self._serve_until_stopped())

    async def _serve_until_stopped(self) -> None:
        runner = web.AppRunner(
            await self._make_app(),
            access_log=None,
            handle_signals=False,
            shutdown_timeout=self.app_exit_seconds + SHUTDOWN_EXTRA_SECONDS,
        )
        await runner.setup()
        try:
            try:
                await web.TCPSite(runner, self.host, self.port).start()
            except OSError as exc:
                raise ServeError(
                    f"cannot listen on {self.host} port {self.port}: {exc.strerror or exc}. "
                    "Choose another port with --port (another `companion serve` may be running), "
                    "or check the --host address belongs to this computer."
                ) from exc
            announce(self.url, for_other_devices=not is_loopback(self.host), out=sys.stdout)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError):
                    loop.add_signal_handler(signum, stop.set)
            await stop.wait()
            closing, killed_before = self.open_tabs, self.tabs_killed
            stopping(closing, out=sys.stdout)
        finally:
            await runner.cleanup()
        stopped(closing, self.tabs_killed - killed_before, out=sys.stdout)
