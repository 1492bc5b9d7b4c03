"""`momoscan serve`: the app in a browser tab, on the loopback address unless told otherwise,
proved in a real headless Chromium."""

from __future__ import annotations

import errno
import importlib.util
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from momoscan.config import ServeSettings
from momoscan.serve import (
    build_serve_parser,
    is_loopback,
    listen,
    plan,
    urls,
    why_not_listening,
)

ROOT = Path(__file__).resolve().parents[1]
#: Where the test keeps its screenshot (build/ is not committed; README's image is a copy).
SCREENSHOT = ROOT / "build" / "screenshots" / "serve.png"


def test_loopback_by_default_and_a_remote_address_needs_the_flag() -> None:
    parser = build_serve_parser()
    default = plan(parser.parse_args(["--demo", "--db", "/tmp/x y.db"]), python="py")
    assert (default.host, default.port, default.warning) == ("127.0.0.1", 8000, "")
    # The cap defaults to the config's default, [serve] max_sessions.
    assert (default.max_sessions, default.behind_proxy) == (ServeSettings.max_sessions, False)
    # `exec`: the process textual-serve holds (and kills if it will not quit) is momoscan.
    assert default.command == "exec py -m momoscan --db '/tmp/x y.db' --demo"
    for host in ("localhost", "127.0.0.2", "::1", "[::1]"):
        assert is_loopback(host)
    for host in ("0.0.0.0", "::", "192.168.1.20", "my-laptop.local"):
        assert not is_loopback(host)
        with pytest.raises(ValueError, match="add --allow-remote"):
            plan(parser.parse_args(["--host", host]))
    remote = plan(parser.parse_args(["--host", "0.0.0.0", "--allow-remote", "--port", "9000"]))
    assert "has the token printed below sees your screen" in remote.warning
    assert "0.0.0.0:9000" in remote.warning and "not encrypted" in remote.warning


def test_the_session_cap_and_the_proxy_flag() -> None:
    parser = build_serve_parser()
    assert plan(parser.parse_args([]), max_sessions=7).max_sessions == 7  # the config's
    flagged = plan(parser.parse_args(["--max-sessions", "1", "--behind-proxy"]), max_sessions=7)
    assert (flagged.max_sessions, flagged.behind_proxy) == (1, True)
    assert "--max-sessions" not in flagged.command and "--behind-proxy" not in flagged.command
    with pytest.raises(ValueError, match="--max-sessions 0 would serve no one"):
        plan(parser.parse_args(["--max-sessions", "0"]))


def test_the_printed_urls_carry_the_token() -> None:
    parser = build_serve_parser()
    assert urls(plan(parser.parse_args(["--port", "8001"])), "T") == [
        "http://127.0.0.1:8001/?token=T"
    ]
    assert urls(plan(parser.parse_args(["--host", "::1"])), "T") == ["http://[::1]:8000/?token=T"]
    anywhere = urls(plan(parser.parse_args(["--host", "0.0.0.0", "--allow-remote"])), "T")
    assert anywhere == [
        "http://127.0.0.1:8000/?token=T",
        f"http://{socket.gethostname()}:8000/?token=T",
    ]


def test_serve_refuses_a_remote_address_without_the_flag() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "momoscan", "serve", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "momoscan serve: --host 0.0.0.0 is not a loopback address: anyone who can reach it "
        "could try to drive momoscan, over unencrypted HTTP; add --allow-remote to serve it "
        "anyway."
    ]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            "[serve]\nmax_session = 2\n",
            "[serve] max_session: unknown key (did you mean 'max_sessions'?)",
        ),
        ("[serve]\nmax_sessions = 0\n", "[serve] max_sessions: must be greater than 0"),
        ('[serve]\nmax_sessions = "2"\n', "[serve] max_sessions: must be a whole number"),
    ],
)
def test_a_bad_serve_section_stops_serve(tmp_path: Path, text: str, said: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "momoscan", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"momoscan: config error: {config}:2: {said}")


# ---------------------------------------------------------------------------------------------
# The address: bound before anything starts, said in one line when it cannot be


def test_listening_sockets_are_bound_before_anything_starts() -> None:
    sockets = listen("127.0.0.1", 0)
    try:
        assert len(sockets) == 1
        port = sockets[0].getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # accepted into the backlog: it listens before any server runs
        with pytest.raises(OSError) as taken:
            listen("127.0.0.1", port)
        assert taken.value.errno == errno.EADDRINUSE
    finally:
        for sock in sockets:
            sock.close()


def test_a_name_is_bound_on_each_of_its_addresses_or_on_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A name such as localhost may be 127.0.0.1 and ::1: serve listens on both (as aiohttp
    would), and when one is taken, the other, bound on the way, is closed again."""
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    real = socket.getaddrinfo

    def both(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        assert host == "dual.test"
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", port, 0, 0)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", both)
    with socket.socket(socket.AF_INET6) as holder:
        holder.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        holder.bind(("::1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(OSError) as taken:
            listen("dual.test", port)  # 127.0.0.1 is free and bound first, ::1 is taken
        assert taken.value.errno == errno.EADDRINUSE
        # ...and the IPv4 socket bound on the way was closed: the port is free on IPv4.
        monkeypatch.setattr(socket, "getaddrinfo", real)
        for sock in listen("127.0.0.1", port):
            sock.close()
    monkeypatch.setattr(socket, "getaddrinfo", both)
    sockets = listen("dual.test", free_port())
    try:
        assert [sock.getsockname()[0] for sock in sockets] == ["127.0.0.1", "::1"]
    finally:
        for sock in sockets:
            sock.close()


def test_why_serve_cannot_listen_is_one_sentence_saying_what_to_do() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        said = why_not_listening("127.0.0.1", port, OSError(errno.EADDRINUSE, "in use"))
    assert said.startswith(f"cannot listen on 127.0.0.1:{port}: the port is in use ")
    assert "choose another with --port N" in said
    if (free := re.search(r"e\.g\. --port (\d+), free now", said)) is not None:
        assert port < int(free[1]) <= port + 20
    assert why_not_listening("::1", 80, OSError(errno.EACCES, "denied")) == (
        "cannot listen on [::1]:80: ports below 1024 need privileges; choose one from 1024 up "
        "with --port N."
    )
    assert why_not_listening("10.9.9.9", 8000, OSError(errno.EADDRNOTAVAIL, "x")) == (
        "cannot listen on 10.9.9.9:8000: 10.9.9.9 is not an address of this machine; choose "
        "another --host."
    )
    assert why_not_listening("nowhere.invalid", 8000, socket.gaierror(-2, "unknown")) == (
        "cannot listen on nowhere.invalid:8000: nowhere.invalid does not resolve; choose "
        "another --host."
    )


# ---------------------------------------------------------------------------------------------
# In a real browser, started and driven as scripts/pictures.py does for the README's picture


def _load_pictures() -> ModuleType:
    """scripts/pictures.py (a script, not a package module): loaded once, by path."""
    name = "momoscan_pictures"
    if (module := sys.modules.get(name)) is None:
        spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "pictures.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # before it runs: its dataclasses look themselves up there
        spec.loader.exec_module(module)
    return module


pictures = _load_pictures()
free_port = pictures.free_port


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Any]:
    # -v: the access log, a line a request (the token test reads it).
    with pictures.serve(tmp_path, "--demo", "--db", str(tmp_path / "demo.db"), "-v") as served:
        assert served.url.startswith(f"http://127.0.0.1:{served.port}/?token=")
        yield served


def test_the_printed_url_works_and_its_token_stays_out_of_the_log(served: Any) -> None:
    """The URL printed at start: its token is traded for a cookie, and the access log, which
    writes each request line, shows it hidden."""
    import urllib.error
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as first:
        opener.open(served.url, timeout=30)
    assert first.value.code == 303 and first.value.headers["Location"] == "/"
    cookie = first.value.headers["Set-Cookie"].split(";", 1)[0]
    root = served.url.split("/?", 1)[0]
    page = opener.open(urllib.request.Request(f"{root}/", headers={"Cookie": cookie}), timeout=30)
    assert page.status == 200 and b"data-session-websocket-url" in page.read()
    token = served.url.rsplit("=", 1)[1]
    log = served.log.read_text()
    assert log.count(token) == 1  # the printed URL, and nowhere else
    assert "token=***" in log


def test_the_app_in_a_headless_chromium(served: Any, tmp_path: Path) -> None:
    found = pictures.find_browser()
    if isinstance(found, str):
        pytest.skip(found)
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.support.ui import WebDriverWait

    with pictures.chromium(*found, tmp_path / "chromium") as driver:
        try:
            # The printed URL: the token becomes a cookie, the page reloads without it. Then
            # the first cycle: DEMO, the movers (with their sparklines), the options panel's
            # chains and rows, the footer's keys.
            screen = pictures.wait_for_screen(driver, served.url)
        except pictures.PictureError as exc:
            pytest.fail(str(exc))
        assert "token" not in driver.current_url
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(SCREENSHOT))
        assert "Top movers" in screen

        # `o` opens the selected row's chart in the browser that shows the app: a real key
        # press (the terminal has the keyboard focus), which the browser counts as the
        # user's, so it may open a tab.
        ActionChains(driver).send_keys("o").perform()
        WebDriverWait(driver, 30, poll_frequency=0.2).until(
            lambda d: d.execute_script("return window.__opened.length") > 0
        )
        opened = driver.execute_script("return window.__opened")
        assert re.fullmatch(
            r"https://www\.tradingview\.com/chart/\?symbol=[A-Z]+:[\w.]+", opened[0]
        )
        # ...in a tab of its own (the browser did not block it as a pop-up).
        WebDriverWait(driver, 30, poll_frequency=0.2).until(lambda d: len(d.window_handles) == 2)
