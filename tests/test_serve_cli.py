"""`companion serve` as a therapist runs it: a real process, real HTTP, stopped with Ctrl+C."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import aiohttp
import pytest
from support.serving import Served, add_clients, free_port
from yarl import URL

from companion.serve.access import token_cookie_name
from companion.serve.server import companion_command

COMPANION = str(Path(sys.executable).with_name("companion"))


def fetch(url: str, host: str | None = None) -> tuple[int, str, dict[str, str]]:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode(), dict(refused.headers)


def test_lan_mode_prints_a_token_url_and_qr_and_refuses_requests_without_it(tmp_path: Path) -> None:
    port = free_port()
    served = Served([COMPANION, "serve", "--host", "0.0.0.0", "--port", str(port)], tmp_path)
    try:
        announced = URL(served.url)
        token = announced.query["token"]
        assert len(token) >= 32
        assert announced.host not in {"0.0.0.0", "127.0.0.1"}, "the tablet needs a reachable address"
        assert announced.port == port
        served.wait_for_output("show it only to your own devices")
        assert "\u2580" in served.output or "\u2584" in served.output, "a QR code is printed"

        status, body, _ = fetch(f"http://127.0.0.1:{port}/")
        assert status == 403
        assert "access token is needed" in body
        status, body, headers = fetch(f"http://127.0.0.1:{port}/?token={token}")
        assert status == 200
        assert "textual-terminal" in body
        assert headers["Set-Cookie"].startswith(f"{token_cookie_name(port)}={token};")
    finally:
        assert served.stop() == 0
    assert token not in served.output.replace(served.url, ""), "the token is printed once, never logged"


def test_local_mode_needs_no_token_prints_no_qr_and_only_answers_local_names(tmp_path: Path) -> None:
    port = free_port()
    served = Served([COMPANION, "serve", "--port", str(port)], tmp_path)
    try:
        assert served.url == f"http://127.0.0.1:{port}/"
        served.wait_for_output("Press Ctrl+C")
        assert "\u2580" not in served.output
        assert fetch(served.url)[0] == 200
        assert fetch(served.url, host=f"rebound.example:{port}")[0] == 403
    finally:
        assert served.stop() == 0


def test_an_explicit_token_from_the_environment_is_used(tmp_path: Path) -> None:
    token = "my-own-token-0123456789"
    port = free_port()
    served = Served([COMPANION, "serve", "--port", str(port)], tmp_path, env={"COMPANION_SERVE_TOKEN": token})
    try:
        assert URL(served.url).query["token"] == token
        assert fetch(f"http://127.0.0.1:{port}/")[0] == 403
        assert fetch(served.url)[0] == 200
    finally:
        assert served.stop() == 0


def test_a_weak_token_is_refused_with_the_rule(tmp_path: Path) -> None:
    result = subprocess.run(
        [COMPANION, "serve", "--token", "1234"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert "--token" in result.stderr
    assert "at least 16 characters" in result.stderr


def test_a_busy_port_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    with socket.socket() as occupant:
        occupant.bind(("127.0.0.1", 0))
        occupant.listen()
        port = occupant.getsockname()[1]
        result = subprocess.run(
            [COMPANION, "serve", "--port", str(port)], capture_output=True, text=True, timeout=60, check=False
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1 port {port}" in result.stderr
    assert "--port" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_ctrl_c_ends_every_open_tab_s_app_and_says_so_in_tabs_not_sessions(tmp_path: Path) -> None:
    add_clients(tmp_path)
    port = free_port()
    served = Served([COMPANION, "serve", "--port", str(port)], tmp_path)
    try:
        apps = asyncio.run(_open_tabs_then_stop_server(served, port))
    finally:
        served.stop()
    assert "a browser tab on this computer closed: its app has quit (0 browser tabs open)" in served.output
    assert "Stopping Companion's server: closing 2 browser tabs" in served.output
    assert "2 browser tabs closed: the app in each quit normally and saved what it recorded" in served.output
    assert "therapy session that was running in a tab is still open" in served.output
    # A therapist reads "session" as the therapy session: the server's own lines never call a tab one.
    server_lines = [line for line in served.lines if "therapy session" not in line]
    assert not any("session" in line.replace("session record", "") for line in server_lines), served.output
    for pid in apps:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # the server waited for its tabs' apps to exit


def test_ctrl_c_with_no_tab_open_says_the_server_stopped_and_the_data_are_saved(tmp_path: Path) -> None:
    served = Served([COMPANION, "serve", "--port", str(free_port())], tmp_path)
    assert served.stop() == 0
    farewell = served.output.split("Press Ctrl+C", 1)[1]
    assert "Stopping Companion's server…" in farewell
    assert "Companion's server has stopped; browsers can no longer reach it." in farewell
    assert "No browser tab was open: everything recorded is saved in the session record." in farewell


async def _open_tabs_then_stop_server(served: Served, port: int) -> list[int]:
    """Open two tabs, wait until both apps show the caseload, Ctrl+C the server; the apps' pids."""
    origin = {"Origin": f"http://127.0.0.1:{port}"}
    async with aiohttp.ClientSession() as session:
        tabs = [await session.ws_connect(f"http://127.0.0.1:{port}/ws", headers=origin) for _ in range(2)]
        for tab in tabs:
            drawn = b""
            while b"Robin" not in drawn:
                message = await tab.receive(timeout=30)
                assert message.type == aiohttp.WSMsgType.BINARY, f"the app ended: {message}"
                drawn += message.data
        served.wait_for_output("(2 browser tabs open)")
        apps = _children(served.proc.pid)
        assert len(apps) == 2, "one app process per tab"
        assert served.stop() == 0
        for tab in tabs:
            while (await tab.receive(timeout=10)).type == aiohttp.WSMsgType.BINARY:
                pass  # the last screen updates before the close
            assert tab.closed
    return apps


def _children(pid: int) -> list[int]:
    """The processes `pid` started (Linux's /proc; tabs' apps are `exec`ed, so they are its children)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if not children.exists():
        pytest.skip("needs Linux's /proc/PID/task/PID/children to find the tabs' app processes")
    return [int(child) for child in children.read_text().split()]


def test_each_tab_runs_this_pythons_companion_cli_on_the_same_data_folder(tmp_path: Path) -> None:
    add_clients(tmp_path, ["Robin"])
    listed = subprocess.run(
        companion_command(tmp_path) + " clients list",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "COMPANION_DATA_DIR"},
    )
    assert listed.returncode == 0, listed.stderr
    assert "Robin" in listed.stdout


def test_a_companion_folder_in_the_current_directory_cannot_stand_in_for_the_app(tmp_path: Path) -> None:
    impostor = tmp_path / "companion" / "cli"
    impostor.mkdir(parents=True)
    (tmp_path / "companion" / "__init__.py").write_text("raise SystemExit('impostor imported')\n")
    (impostor / "__init__.py").write_text("raise SystemExit('impostor imported')\n")
    version = subprocess.run(
        companion_command(None) + " --version",
        shell=True,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("companion, version")
