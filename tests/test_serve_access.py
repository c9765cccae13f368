"""Access rules of the served app, checked over real HTTP against Companion's aiohttp application.

The server runs in-process on a loopback port (aiohttp's TestServer); websockets that get through start
a real app process (the Companion app, as `companion serve` runs it).
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from support.serving import add_clients
from textual_serve.download_manager import DownloadManager
from yarl import URL

from companion.output_lock import ORIGIN_ENV, OutputLock
from companion.serve.access import (
    SECURITY_HEADERS,
    TOKEN_ENV,
    AccessPolicy,
    new_token,
    same_origin,
    token_cookie_name,
    validate_token,
)
from companion.serve.server import CompanionServer, TabAppService, access_for_bind, companion_command

TOKEN = "a-test-token-long-enough-123"
_FETCHED = re.compile(r"""(?:src|href)="([^"]*)"|url\("([^"]*)"\)""")

ClientFactory = Callable[..., Coroutine[Any, Any, TestClient[Any, Any]]]


@pytest.fixture
async def client_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ClientFactory]:
    """Start Companion's server app with a given policy; each tab runs the Companion app on tmp_path."""
    monkeypatch.setenv("COMPANION_DATA_DIR", str(tmp_path))
    add_clients(tmp_path)
    clients: list[TestClient[Any, Any]] = []

    async def start(policy: AccessPolicy, command: str | None = None, **options: Any) -> TestClient[Any, Any]:
        command = command or companion_command(tmp_path)
        server = CompanionServer(command, host="127.0.0.1", port=0, policy=policy, **options)
        client: TestClient[Any, Any] = TestClient(TestServer(await server._make_app(), host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


def origin_of(client: TestClient[Any, Any]) -> str:
    return str(client.make_url("/").origin())


async def test_token_server_refuses_everything_without_the_token(client_for: ClientFactory) -> None:
    client = await client_for(AccessPolicy(token=TOKEN, allowed_hosts=None))
    for path in ["/", "/static/js/textual.js", "/download/anything", "/?token=wrong-token-guess-000000"]:
        response = await client.get(path)
        assert response.status == 403, path
        assert "access token is needed" in await response.text()
        assert response.headers["Content-Type"].startswith("text/plain")
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/ws", headers={"Origin": origin_of(client)})
    assert refused.value.status == 403


async def test_the_token_is_only_accepted_on_the_page_itself(client_for: ClientFactory) -> None:
    client = await client_for(AccessPolicy(token=TOKEN, allowed_hosts=None))
    response = await client.get(f"/static/js/textual.js?token={TOKEN}")
    assert response.status == 403
    assert not response.cookies


async def test_the_token_opens_the_page_and_a_private_cookie_opens_the_rest(
    client_for: ClientFactory,
) -> None:
    client = await client_for(AccessPolicy(token=TOKEN, allowed_hosts=None))
    page = await client.get(f"/?token={TOKEN}")
    assert page.status == 200
    cookie = page.cookies[token_cookie_name(client.port)]
    assert cookie.value == TOKEN
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/"

    script = await client.get("/static/js/textual.js")  # the cookie jar now carries the cookie
    assert script.status == 200
    client.session.cookie_jar.clear()
    assert (await client.get("/static/js/textual.js")).status == 403
    other_server = {token_cookie_name(client.port + 1): TOKEN}
    assert (await client.get("/static/js/textual.js", cookies=other_server)).status == 403


async def test_loopback_server_answers_only_to_loopback_names(client_for: ClientFactory) -> None:
    client = await client_for(access_for_bind("127.0.0.1", None))
    port = client.port
    assert (await client.get("/")).status == 200
    assert (await client.get("/", headers={"Host": f"localhost:{port}"})).status == 200
    rebound = await client.get("/", headers={"Host": f"attacker.example:{port}"})
    assert rebound.status == 403
    assert "only answers on this computer" in await rebound.text()


async def test_websocket_from_another_site_or_without_origin_is_refused(client_for: ClientFactory) -> None:
    client = await client_for(access_for_bind("127.0.0.1", None))
    for headers in [
        {"Origin": "http://attacker.example"},
        {"Origin": f"http://127.0.0.1:{client.port + 1}"},
        {},
    ]:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect("/ws", headers=headers)
        assert refused.value.status == 403, headers


class TerminalOutput:
    """A tab's websocket seen from the test: what the app drew so far, and keys typed into it."""

    def __init__(self, websocket: aiohttp.ClientWebSocketResponse) -> None:
        self.websocket = websocket
        self.drawn = b""

    async def wait_for(self, text: str, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while text.encode() not in self.drawn:
            assert time.monotonic() < deadline, f"the app never drew {text!r}: {self.drawn[-500:]!r}"
            message = await self.websocket.receive(timeout=seconds)
            if message.type == aiohttp.WSMsgType.BINARY:
                self.drawn += message.data

    async def type(self, keys: str) -> None:
        await self.websocket.send_json(["stdin", keys])


async def test_an_accepted_websocket_runs_a_session_and_ends_it_on_close(
    client_for: ClientFactory, tmp_path: Path
) -> None:
    client = await client_for(AccessPolicy(token=TOKEN, allowed_hosts=None))
    assert (await client.get(f"/?token={TOKEN}")).status == 200
    websocket = await client.ws_connect("/ws?width=120&height=36", headers={"Origin": origin_of(client)})
    tab = TerminalOutput(websocket)
    await tab.wait_for("Robin")
    await tab.type("s")  # start a session with the first client
    await tab.wait_for("Start session")
    await tab.type("\r")
    await tab.wait_for("Correct")
    await tab.type(" ")  # the metronome: the session takes the outputs
    deadline = time.monotonic() + 30
    while (holder := OutputLock.holder_of(tmp_path)) is None:
        assert time.monotonic() < deadline, f"the session never took the outputs: {tab.drawn[-500:]!r}"
        await asyncio.sleep(0.05)
    assert holder.origin == "a browser tab on this computer", "the tab's origin reached its app process"

    await websocket.close()
    while OutputLock.holder_of(tmp_path) is not None:
        assert time.monotonic() < deadline + 30, "closing the tab did not end its app process"
        await asyncio.sleep(0.05)


async def test_an_app_that_ignores_quit_is_killed_when_its_tab_closes(
    client_for: ClientFactory, tmp_path: Path
) -> None:
    pid_file = tmp_path / "hung.pid"
    hung_app = "exec " + shlex.join([sys.executable, "-c", HUNG_APP, str(pid_file)])
    client = await client_for(access_for_bind("127.0.0.1", None), command=hung_app, app_exit_seconds=1.0)
    websocket = await client.ws_connect("/ws", headers={"Origin": origin_of(client)})
    deadline = time.monotonic() + 30
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline, "the app never started"
        await asyncio.sleep(0.05)
    pid = int(pid_file.read_text())
    await websocket.close()
    while _alive(pid):
        assert time.monotonic() < deadline, "the hung app outlived its tab"
        await asyncio.sleep(0.05)


HUNG_APP = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
open(sys.argv[1], "w").write(str(os.getpid()))
print("__GANGLION__", flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_every_response_carries_the_security_headers(client_for: ClientFactory) -> None:
    client = await client_for(AccessPolicy(token=TOKEN, allowed_hosts=None))
    for response in [await client.get("/"), await client.get(f"/?token={TOKEN}")]:
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value
    assert "frame-ancestors 'none'" in SECURITY_HEADERS["Content-Security-Policy"]


async def test_page_loads_nothing_from_elsewhere_and_uses_the_address_the_browser_used(
    client_for: ClientFactory,
) -> None:
    client = await client_for(access_for_bind("127.0.0.1", None))
    host = f"localhost:{client.port}"
    page = await (await client.get("/?fontsize=22", headers={"Host": host})).text()
    assert "googleapis" not in page
    fetched = _fetched_urls(page)
    assert len(fetched) >= 4, "stylesheet, script and both fonts"
    assert {url for url in fetched if not url.startswith(f"http://{host}/static/")} == set()
    assert f'data-session-websocket-url="ws://{host}/ws"' in page
    assert 'data-font-size="22"' in page
    assert 'name="viewport"' in page
    assert "touch-action: manipulation" in page
    assert "RobotoMono-VariableFont_wght.ttf" in page


async def test_the_server_font_size_is_the_default_for_big_tablet_buttons(client_for: ClientFactory) -> None:
    client = await client_for(access_for_bind("127.0.0.1", None), font_size=28)
    assert 'data-font-size="28"' in await (await client.get("/")).text()
    assert 'data-font-size="20"' in await (await client.get("/?fontsize=20")).text()


def _fetched_urls(page: str) -> list[str]:
    """Everything the page makes the browser load: src/href attributes and CSS url()s."""
    return [attribute or css for attribute, css in _FETCHED.findall(page)]


def test_loopback_binds_need_no_token_but_any_other_bind_always_gets_one() -> None:
    local = access_for_bind("127.0.0.1", None)
    assert local.token is None
    assert local.allowed_hosts is not None and {"localhost", "127.0.0.1", "::1"} <= local.allowed_hosts
    assert access_for_bind("[::1]", None).token is None
    for host in ["0.0.0.0", "::", "192.168.1.5", "companion-laptop.local"]:
        policy = access_for_bind(host, None)
        assert policy.token is not None and len(policy.token) >= 32, host
        assert policy.allowed_hosts is None
    assert access_for_bind("0.0.0.0", TOKEN).token == TOKEN
    assert access_for_bind("127.0.0.1", TOKEN).token == TOKEN


def test_generated_tokens_are_fresh_and_valid() -> None:
    tokens = {new_token() for _ in range(50)}
    assert len(tokens) == 50
    assert all(validate_token(token) == token for token in tokens)


@pytest.mark.parametrize("token", ["short", "has space in the token!", "semi;colon-token-1234", "é" * 20])
def test_unusable_tokens_are_refused_with_the_rule(token: str) -> None:
    with pytest.raises(ValueError, match="at least 16 characters"):
        validate_token(token)


def test_token_comparison_rejects_near_misses() -> None:
    policy = AccessPolicy(token=TOKEN, allowed_hosts=None)
    assert policy.token_matches(TOKEN)
    for candidate in [None, "", TOKEN[:-1], TOKEN + "x", TOKEN.upper()]:
        assert not policy.token_matches(candidate)
    assert not AccessPolicy(token=None, allowed_hosts=None).token_matches(TOKEN)


def test_same_origin_compares_scheme_host_and_port() -> None:
    def check(served: str, origin: str | None) -> bool:
        return same_origin(origin, URL(served))

    assert check("http://127.0.0.1:8000/ws", "http://127.0.0.1:8000")
    assert check("http://localhost/ws", "http://localhost")
    assert check("http://localhost/ws", "http://localhost:80")
    assert not check("http://127.0.0.1:8000/ws", "http://127.0.0.1:8001")
    assert not check("http://127.0.0.1:8000/ws", "https://127.0.0.1:8000")
    assert not check("http://127.0.0.1:8000/ws", "http://localhost:8000")
    assert not check("http://127.0.0.1:8000/ws", "null")
    assert not check("http://127.0.0.1:8000/ws", "")
    assert not check("http://127.0.0.1:8000/ws", None)


def test_a_tab_gets_its_origin_but_not_the_access_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)

    async def ignore(data: Any) -> None: ...

    async def close() -> None: ...

    service = TabAppService(
        companion_command(None),
        environment={ORIGIN_ENV: "a browser tab on 192.168.1.20"},
        exit_seconds=1,
        write_bytes=ignore,
        write_str=ignore,
        close=close,
        download_manager=DownloadManager(),
    )
    environment = service._build_environment(100, 30)
    assert TOKEN_ENV not in environment
    assert environment[ORIGIN_ENV] == "a browser tab on 192.168.1.20"
    assert (environment["COLUMNS"], environment["ROWS"]) == ("100", "30")
