"""`momoscan serve` checks who is asking: Origin, Host (DNS rebinding), the token, the session
cap and the proxy's headers, with real HTTP and WebSocket requests to a server on 127.0.0.1.

The server is momoscan's own (`MomoscanServer`, textual-serve underneath); the app each
WebSocket starts is a small stand-in that speaks textual-serve's protocol (its ready line, one
data packet, then it waits for the quit packet), so that sessions start and end in a moment
and each start leaves a line in a file the test reads.
"""

from __future__ import annotations

import shlex
import socket
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from http.cookies import SimpleCookie
from pathlib import Path
from unittest import mock

import aiohttp
import anyio
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from momoscan.serve_app import MomoscanServer
from momoscan.serve_guard import (
    Guard,
    is_loopback_name,
    parse_address,
    peer_is_loopback,
    same_origin,
)

TOKEN = "s3cret-token-for-tests_0123456789abcdefghij"
COOKIE = "momoscan-serve-test"
#: Headers that make a GET a WebSocket upgrade (RFC 6455's sample key).
UPGRADE = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}
#: The stand-in app: textual-serve waits for this ready line, relays D packets to the browser
#: and, when the tab goes, sends a quit packet and waits for the process to end.
FAKE_APP = r"""
import json, struct, sys
with open(sys.argv[1], "a") as marks:
    marks.write("started\n")
out = sys.stdout.buffer
out.write(b"__GANGLION__\n")
payload = b"the app in tab"
out.write(b"D" + struct.pack(">I", len(payload)) + payload)
out.flush()
stdin = sys.stdin.buffer
while True:
    head = stdin.read(5)
    if len(head) < 5:
        break
    body = stdin.read(struct.unpack(">I", head[1:])[0])
    if head[:1] == b"M" and json.loads(body).get("type") == "quit":
        break
"""


# ---------------------------------------------------------------------------------------------
# The pieces


def test_loopback_names_and_peers() -> None:
    for name in ("localhost", "LOCALHOST", "app.localhost", "127.0.0.1", "127.9.9.9", "::1"):
        assert is_loopback_name(name), name
    assert is_loopback_name("[::1]") and is_loopback_name("::ffff:127.0.0.1")
    for name in ("evil.example", "localhost.evil.example", "192.168.1.20", "0.0.0.0", "::", ""):
        assert not is_loopback_name(name), name
    assert peer_is_loopback("127.0.0.1") and peer_is_loopback("::1")
    assert peer_is_loopback("::ffff:127.0.0.1")
    for peer in (None, "", "192.168.1.20", "fd00::2", "::ffff:10.0.0.1", "not an address"):
        assert not peer_is_loopback(peer), peer


def test_addresses_and_origins() -> None:
    here = parse_address("http", "127.0.0.1:8000")
    assert here is not None and (here.hostname, here.port, here.origin) == (
        "127.0.0.1",
        8000,
        "http://127.0.0.1:8000",
    )
    assert same_origin("http://127.0.0.1:8000", here)
    for other in (
        "http://localhost:8000",  # the same machine, but another origin to a browser
        "https://127.0.0.1:8000",
        "http://127.0.0.1:8001",
        "http://evil.example",
        "null",
        "http://127.0.0.1:8000/path",
        "",
    ):
        assert not same_origin(other, here), other
    proxied = parse_address("HTTPS", "Momo.Example.com")
    assert proxied is not None and proxied.port == 443
    assert same_origin("https://momo.example.com", proxied)
    assert same_origin("https://momo.example.com:443", proxied)
    assert not same_origin("http://momo.example.com", proxied)
    six = parse_address("http", "[::1]:8000")
    assert six is not None and six.hostname == "::1" and same_origin("http://[::1]:8000", six)
    for scheme, host in (
        ("http", ""),
        ("ftp", "a"),
        ("http", "a b"),
        ("http", "a/b"),
        ("http", "a:99999"),
        ("http", "user@a"),
    ):
        assert parse_address(scheme, host) is None, (scheme, host)


def _request(peer: str, headers: dict[str, str], path: str = "/") -> web.Request:
    """A request as aiohttp builds it, from `peer`."""
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        (peer, 50000) if name == "peername" else default
    )
    return make_mocked_request("GET", path, headers=headers, transport=transport)


def test_who_needs_the_token() -> None:
    """The table of who gets in without the token, with requests from a non-loopback peer
    (a real one is in test_a_remote_peer_needs_the_token, where this machine has an address
    other than loopback)."""
    remote_bind = Guard(TOKEN, loopback_bind=False, cookie_name=COOKIE)
    lan = {"Host": "192.168.1.5:8000"}

    def refused(guard: Guard, peer: str, headers: dict[str, str], path: str = "/") -> str | None:
        refusal = guard.refusal(_request(peer, headers, path))
        return None if refusal is None else refusal.title

    # Another machine: the token, in the query or the cookie, and nothing else.
    assert refused(remote_bind, "192.168.1.20", lan) == "The token is needed"
    assert refused(remote_bind, "192.168.1.20", lan, "/?token=wrong") == "The token is needed"
    assert refused(remote_bind, "192.168.1.20", lan, f"/?token={TOKEN}") is None
    assert refused(remote_bind, "192.168.1.20", lan | {"Cookie": f"{COOKIE}={TOKEN}"}) is None
    assert refused(remote_bind, "192.168.1.20", lan | {"Cookie": f"other={TOKEN}"}) == (
        "The token is needed"
    )
    # This machine, under a loopback name: no token needed, though it works too.
    assert refused(remote_bind, "127.0.0.1", {"Host": "localhost:8000"}) is None
    assert refused(remote_bind, "127.0.0.1", {"Host": "localhost:8000"}, "/?token=x") is None
    # This machine under another name (a rebinding page): the token.
    assert refused(remote_bind, "127.0.0.1", {"Host": "evil.example:8000"}) == (
        "The token is needed"
    )
    # Behind a proxy every request comes from the proxy: the token, always.
    proxied = Guard(TOKEN, loopback_bind=True, behind_proxy=True, cookie_name=COOKIE)
    forwarded = {"Host": "127.0.0.1:8000", "X-Forwarded-Host": "momo.example.com"}
    assert refused(proxied, "127.0.0.1", forwarded) == "The token is needed"
    assert refused(proxied, "127.0.0.1", forwarded | {"Cookie": f"{COOKIE}={TOKEN}"}) is None
    # Without a Host there is nothing to check against.
    assert refused(remote_bind, "127.0.0.1", {}) == "Not an address"


# ---------------------------------------------------------------------------------------------
# A real server on 127.0.0.1


@pytest.fixture
def fake_app(tmp_path: Path) -> tuple[str, Path]:
    script = tmp_path / "fake_app.py"
    script.write_text(FAKE_APP)
    marks = tmp_path / "started.txt"
    marks.touch()
    return shlex.join([sys.executable, str(script), str(marks)]), marks


def _starts(marks: Path) -> int:
    return len(marks.read_text().splitlines())


@asynccontextmanager
async def running(
    command: str,
    *,
    host: str = "127.0.0.1",
    loopback_bind: bool = True,
    behind_proxy: bool = False,
    max_sessions: int = 3,
) -> AsyncIterator[tuple[MomoscanServer, str]]:
    """momoscan's server listening on `host`, on a port of its own; yields it and its root."""
    guard = Guard(TOKEN, loopback_bind, behind_proxy, COOKIE)
    server = MomoscanServer(command, host=host, port=0, guard=guard, max_sessions=max_sessions)
    runner = web.AppRunner(await server._make_app())
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield server, f"http://{host}:{port}"
    finally:
        await runner.cleanup()


async def _until(condition: Callable[[], bool]) -> None:
    """Wait for `condition` (a bound on a live system, not a figure being tested)."""
    with anyio.fail_after(30):
        while not condition():
            await anyio.sleep(0.02)


@pytest.mark.anyio
async def test_the_page_checks_origin_and_host(fake_app: tuple[str, Path]) -> None:
    command, _ = fake_app
    async with running(command) as (_, root), aiohttp.ClientSession() as http:
        host = root.removeprefix("http://")
        html = {"Accept": "text/html"}
        async with http.get(f"{root}/", headers=html) as page:
            assert page.status == 200
            body = await page.text()
            assert f'data-session-websocket-url="ws://{host}/ws"' in body
            assert page.headers["X-Frame-Options"] == "DENY"
            assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
        # Another site's page.
        async with http.get(f"{root}/", headers=html | {"Origin": "https://evil.example"}) as page:
            assert page.status == 403
            text = await page.text()
            assert "another site" in text and "evil.example" not in text  # no outside text
        # A DNS-rebinding page: the browser names the attacker's host, token or not.
        for path in ("/", f"/?token={TOKEN}"):
            rebound = {"Host": f"evil.example:{root.rsplit(':', 1)[1]}"}
            async with http.get(f"{root}{path}", headers=rebound) as page:
                assert page.status == 403
                assert "another name (as a DNS-rebinding page would)" in await page.text()
        # The same machine under its other loopback name is fine (the page is its own origin).
        async with http.get(
            f"{root}/", headers={"Host": f"localhost:{root.rsplit(':', 1)[1]}"}
        ) as page:
            assert page.status == 200


@pytest.mark.anyio
async def test_the_websocket_checks_origin_and_host(fake_app: tuple[str, Path]) -> None:
    command, marks = fake_app
    async with running(command) as (server, root), aiohttp.ClientSession() as http:
        port = root.rsplit(":", 1)[1]
        for headers in (
            {"Origin": "https://evil.example"},
            {"Origin": "null"},
            {"Origin": f"http://localhost:{port}"},  # another origin than the Host's
            {"Origin": f"http://evil.example:{port}", "Host": f"evil.example:{port}"},
        ):
            async with http.get(f"{root}/ws", headers=UPGRADE | headers) as refused:
                assert refused.status == 403, headers
        assert _starts(marks) == 0 and server.sessions == 0  # no app was started
        # The page's own WebSocket: its origin, and the app answers.
        async with http.ws_connect(f"{root}/ws?width=90&height=30", origin=root) as ws:
            message = await ws.receive(timeout=30)
            assert message.type == aiohttp.WSMsgType.BINARY
            assert message.data == b"the app in tab"
            assert server.sessions == 1 and _starts(marks) == 1
        await _until(lambda: server.sessions == 0)


@pytest.mark.anyio
async def test_the_token_becomes_a_cookie(fake_app: tuple[str, Path]) -> None:
    command, _ = fake_app
    async with (
        running(command, behind_proxy=True) as (server, root),
        aiohttp.ClientSession() as http,
    ):
        forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "momo.example.com"}
        async with http.get(f"{root}/", headers=forwarded) as page:
            assert page.status == 403  # behind a proxy, the token from everyone
            assert "needs the token it printed" in await page.text()
        async with http.get(
            f"{root}/?fontsize=14&token={TOKEN}", headers=forwarded, allow_redirects=False
        ) as first:
            assert first.status == 303
            assert first.headers["Location"] == "/?fontsize=14"  # the token out of the URL
            cookie = SimpleCookie(first.headers["Set-Cookie"])[COOKIE]
        assert cookie.value == TOKEN
        assert cookie["httponly"] and cookie["secure"] and cookie["path"] == "/"
        assert cookie["samesite"] == "Strict"
        with_cookie = forwarded | {"Cookie": f"{COOKIE}={TOKEN}"}
        async with http.get(f"{root}/?fontsize=14", headers=with_cookie) as page:
            assert page.status == 200
            body = await page.text()
        # https and wss, from the proxy's headers (textual-serve issue #10's blank page).
        assert 'data-session-websocket-url="wss://momo.example.com/ws"' in body
        assert 'href="https://momo.example.com/static/css/xterm.css"' in body
        assert 'data-font-size="14"' in body
        # The WebSocket with the cookie, from the page's https origin.
        origin = {"Origin": "https://momo.example.com"}
        async with http.ws_connect(
            f"{root}/ws?width=80&height=24", headers=with_cookie | origin
        ) as ws:
            assert (await ws.receive(timeout=30)).data == b"the app in tab"
        for headers in (
            forwarded | origin,
            with_cookie | {"Origin": "http://momo.example.com"},
        ):
            async with http.get(f"{root}/ws", headers=UPGRADE | headers) as refused:
                assert refused.status == 403
        await _until(lambda: server.sessions == 0)


@pytest.mark.anyio
async def test_without_the_proxy_flag_forwarded_headers_are_ignored(
    fake_app: tuple[str, Path],
) -> None:
    command, _ = fake_app
    async with running(command) as (_, root), aiohttp.ClientSession() as http:
        host = root.removeprefix("http://")
        forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"}
        async with http.get(f"{root}/", headers=forwarded) as page:
            assert page.status == 200
            assert f'"ws://{host}/ws"' in await page.text()
        async with http.get(
            f"{root}/ws", headers=UPGRADE | forwarded | {"Origin": "https://evil.example"}
        ) as refused:
            assert refused.status == 403


@pytest.mark.anyio
async def test_sessions_are_capped(fake_app: tuple[str, Path]) -> None:
    command, marks = fake_app
    async with running(command, max_sessions=2) as (server, root), aiohttp.ClientSession() as http:
        url = f"{root}/ws?width=80&height=24"
        first = await http.ws_connect(url, origin=root)
        second = await http.ws_connect(url, origin=root)
        for ws in (first, second):
            assert (await ws.receive(timeout=30)).data == b"the app in tab"
        assert server.sessions == 2
        # A third tab: its page says so (and reloads itself), its WebSocket is refused
        # before an app starts.
        async with http.get(f"{root}/", headers={"Accept": "text/html"}) as page:
            assert page.status == 503 and page.headers["Retry-After"] == "5"
            body = await page.text()
            assert "running 2 sessions, its limit" in body
            assert '<meta http-equiv="refresh" content="5">' in body
        async with http.get(url, headers=UPGRADE | {"Origin": root}) as refused:
            assert refused.status == 503
            assert "--max-sessions" in await refused.text()
        assert _starts(marks) == 2
        # A tab closes: its place is free once its app has quit.
        await first.close()
        await _until(lambda: server.sessions == 1)
        async with http.get(f"{root}/") as page:
            assert page.status == 200
        third = await http.ws_connect(url, origin=root)
        assert (await third.receive(timeout=30)).data == b"the app in tab"
        assert _starts(marks) == 3 and server.sessions == 2
        await second.close()
        await third.close()
        await _until(lambda: server.sessions == 0)


def _non_loopback_address() -> str | None:
    """One of this machine's IPv4 addresses other than loopback, if it has one."""
    candidates: list[str] = []
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks a route
            candidates.append(probe.getsockname()[0])
    except OSError:
        pass
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            candidates.append(str(info[4][0]))
    except OSError:
        pass
    for address in candidates:
        if not peer_is_loopback(address) and address != "0.0.0.0":
            try:
                with socket.socket() as s:
                    s.bind((address, 0))
            except OSError:
                continue
            return address
    return None


@pytest.mark.anyio
async def test_a_remote_peer_needs_the_token(fake_app: tuple[str, Path]) -> None:
    """Served on an address other than loopback (as with --allow-remote) and reached through
    it, the connection's peer is not loopback: the token is needed, then its cookie does."""
    address = _non_loopback_address()
    if address is None:
        pytest.skip("this machine has no address other than loopback")
    command, marks = fake_app
    async with (
        running(command, host=address, loopback_bind=False) as (server, root),
        aiohttp.ClientSession() as http,
    ):
        async with http.get(f"{root}/") as page:
            assert page.status == 403
        async with http.get(f"{root}/ws", headers=UPGRADE | {"Origin": root}) as refused:
            assert refused.status == 403
        assert _starts(marks) == 0
        async with http.get(f"{root}/?token={TOKEN}", allow_redirects=False) as first:
            assert first.status == 303
        cookie = {"Cookie": f"{COOKIE}={TOKEN}"}
        async with http.get(f"{root}/", headers=cookie) as page:
            assert page.status == 200
        async with http.ws_connect(f"{root}/ws", headers=cookie, origin=root) as ws:
            assert (await ws.receive(timeout=30)).data == b"the app in tab"
        await _until(lambda: server.sessions == 0)


#: An app that never quits: it reports its pid and ignores the quit packet.
STUBBORN_APP = r"""
import os, struct, sys, time
with open(sys.argv[1], "a") as marks:
    marks.write(f"{os.getpid()}\n")
out = sys.stdout.buffer
out.write(b"__GANGLION__\n")
out.write(b"D" + struct.pack(">I", 5) + b"stuck")
out.flush()
while True:
    time.sleep(1)
"""


@pytest.mark.anyio
async def test_an_app_that_will_not_quit_is_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its place is freed and no process is left behind (the command starts with `exec`, as
    momoscan serve's does, so that the process killed is the app, not a shell)."""
    import os

    from momoscan import serve_app

    monkeypatch.setattr(serve_app, "QUIT_GRACE", 0.2)
    script = tmp_path / "stubborn.py"
    script.write_text(STUBBORN_APP)
    marks = tmp_path / "pids.txt"
    marks.touch()
    command = "exec " + shlex.join([sys.executable, str(script), str(marks)])
    async with running(command, max_sessions=1) as (server, root), aiohttp.ClientSession() as http:
        async with http.ws_connect(f"{root}/ws", origin=root) as ws:
            assert (await ws.receive(timeout=30)).data == b"stuck"
        await _until(lambda: server.sessions == 0)
        (pid,) = (int(line) for line in marks.read_text().split())
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # killed and reaped
        async with http.get(f"{root}/") as page:
            assert page.status == 200
