"""`momoscan serve`: the app in a browser tab, on the loopback address unless told otherwise,
proved in a real headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from momoscan.config import ServeSettings
from momoscan.serve import build_serve_parser, is_loopback, plan, urls

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
# In a real browser


def _browser() -> tuple[str, str]:
    """Chromium and its WebDriver, or skip saying what is missing."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.skip("selenium is not installed (pip install -e '.[test]')")
    binary = next(
        (
            found
            for name in ("chromium", "chromium-browser", "google-chrome", "chrome")
            if (found := shutil.which(name))
        ),
        None,
    )
    driver = shutil.which("chromedriver")
    if binary is None or driver is None:
        pytest.skip(
            "no headless browser: install Chromium and its driver (Debian: apt-get install "
            "chromium chromium-driver; .ci/run does)"
        )
    return binary, driver


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: Injected before the page's own scripts: keeps each xterm.js Terminal the page creates (the
#: page holds it in a closure), so that the test reads what the browser shows, and records the
#: URLs the app asks the browser to open.
CAPTURE = """
window.__terminals = [];
window.__opened = [];
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  get() { return undefined; },
  set(value) {
    Object.defineProperty(this, "terminal", {
      value, writable: true, configurable: true, enumerable: true,
    });
    if (value && value.buffer) { window.__terminals.push(value); }
  },
});
const open = window.open.bind(window);
window.open = (url, target) => { window.__opened.push(String(url)); return open(url, target); };
"""

SCREEN_TEXT = """
const t = window.__terminals[0];
if (!t) { return ""; }
const b = t.buffer.active;
const lines = [];
for (let y = 0; y < t.rows; y++) {
  const line = b.getLine(b.viewportY + y);
  lines.push(line ? line.translateToString(true) : "");
}
return lines.join("\\n");
"""

#: A movers row: rank, symbol, ..., a price and a signed percent change.
MOVERS_ROW = re.compile(r"^\W*\d{1,2}\s+[A-Z][A-Z0-9.]*\s.*\d+\.\d\d\s.*[+-]\d+\.\d\d%", re.M)
#: The options panel's title once the watch set's chains are in.
CHAINS = re.compile(r"share of the watch set · \d+ chains?,")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "momoscan",
            "serve",
            "--port",
            str(port),
            "--demo",
            "--db",
            str(tmp_path / "demo.db"),
            "-v",  # the access log: a line a request (the token test reads it)
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # the server and the app processes it starts, as one group
    )
    try:
        for _ in range(300):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None:
                pytest.fail(f"momoscan serve exited: {(tmp_path / 'serve.log').read_text()}")
            time.sleep(0.1)
        else:
            pytest.fail(f"momoscan serve never listened: {(tmp_path / 'serve.log').read_text()}")
        printed = re.search(r"open (http://\S+) in a browser", (tmp_path / "serve.log").read_text())
        assert printed, (tmp_path / "serve.log").read_text()
        assert printed.group(1).startswith(f"http://127.0.0.1:{port}/?token=")
        yield printed.group(1)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def test_the_printed_url_works_and_its_token_stays_out_of_the_log(
    served: str, tmp_path: Path
) -> None:
    """The URL printed at start: its token is traded for a cookie, and the access log, which
    writes each request line, shows it hidden."""
    import urllib.error
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as first:
        opener.open(served, timeout=30)
    assert first.value.code == 303 and first.value.headers["Location"] == "/"
    cookie = first.value.headers["Set-Cookie"].split(";", 1)[0]
    root = served.split("/?", 1)[0]
    page = opener.open(urllib.request.Request(f"{root}/", headers={"Cookie": cookie}), timeout=30)
    assert page.status == 200 and b"data-session-websocket-url" in page.read()
    token = served.rsplit("=", 1)[1]
    log = (tmp_path / "serve.log").read_text()
    assert log.count(token) == 1  # the printed URL, and nowhere else
    assert "token=***" in log


def test_the_app_in_a_headless_chromium(served: str, tmp_path: Path) -> None:
    binary, driver_path = _browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--window-size=1500,900",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CAPTURE})
        driver.get(served)  # the printed URL: the token becomes a cookie, the page reloads
        assert "token" not in driver.current_url
        # Waits are bounds on a live system (app start, the first demo cycle), not figures.
        screen = ""

        def ready(d: webdriver.Chrome) -> bool:
            nonlocal screen
            screen = d.execute_script(SCREEN_TEXT)
            # The first cycle done: the movers (with their sparklines) and the options panel.
            return (
                "DEMO" in screen
                and len(MOVERS_ROW.findall(screen)) >= 10
                and CHAINS.search(screen) is not None
            )

        try:
            WebDriverWait(driver, 120, poll_frequency=0.5).until(ready)
        except Exception:
            pytest.fail(f"the browser never showed the first cycle's tables; it showed:\n{screen}")
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(SCREENSHOT))
        assert "Top movers" in screen

        # `o` opens the selected row's chart in the browser that shows the app.
        # Keyboard focus on the terminal (a click would land on a row of the tables), then
        # a real key press: the browser counts it as the user's, so it may open a tab.
        driver.execute_script("document.querySelector('.xterm-helper-textarea').focus()")
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
    finally:
        driver.quit()
