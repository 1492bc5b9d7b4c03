"""The README's picture of `momoscan serve`, made from the current app: `docs/serve.png`.

    .venv/bin/python scripts/pictures.py                # writes docs/serve.png
    .venv/bin/python scripts/pictures.py --out x.png    # somewhere else

It starts `momoscan serve --demo` on a free port of 127.0.0.1, in a temporary directory that
holds the database and stands in for HOME and the XDG directories (no config, key or
database of yours is read). It loads the URL serve prints in headless
Chromium with a page of `WINDOW` CSS pixels (at one device pixel each: the picture is exactly
that size), focuses the terminal as a click would, waits until the screen has its data (the
DEMO label, ten movers rows, the options panel's chains and rows, the footer's keys, no
notification over the panels) and saves the screenshot. A picture that comes out blank
(fewer than `MIN_COLOURS` colours) is not written. It needs Chromium and chromedriver
(Debian: `apt-get install chromium chromium-driver`) and selenium (`pip install -e
'.[test]'`); about 10 s.

tests/test_serve.py (which loads this file by path) and tests/test_serve_collector.py start
serve and drive the browser with this module's `serve`, `chromium` and `wait_for_screen`, so
that the picture shows what the tests prove; tests/test_pictures.py checks the picture.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: The picture the README shows.
PICTURE = ROOT / "docs" / "serve.png"
#: The page's size in CSS pixels, and so the picture's in pixels (width, height): the
#: terminal in it is about 145 columns by 42 rows, where the tables sit side by side.
WINDOW = (1400, 800)
#: Fewer distinct colours than this and the picture is taken for blank (a page that never
#: drew: one or two colours; the app's first frame: a handful).
MIN_COLOURS = 16

#: Injected before the page's own scripts: keeps each xterm.js Terminal the page creates (the
#: page holds it in a closure), so that what the browser shows can be read as text, and
#: records the URLs the app asks the browser to open.
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

#: The terminal's visible lines, as text.
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

#: Calls back after two animation frames: what the terminal holds has been painted.
PAINTED = """
const done = arguments[arguments.length - 1];
requestAnimationFrame(() => requestAnimationFrame(() => done(true)));
"""

#: Moves the keyboard focus into the terminal (its input, where xterm.js takes keys) afresh:
#: the page tells the app of the focus event, which the app needs once it runs.
FOCUS = """
const input = document.querySelector('.xterm-helper-textarea');
if (input) { input.blur(); input.focus(); }
"""

#: A movers row: rank, symbol, ..., a price and a signed percent change.
MOVERS_ROW = re.compile(r"^\W*\d{1,2}\s+[A-Z][A-Z0-9.]*\s.*\d+\.\d\d\s.*[+-]\d+\.\d\d%", re.M)
#: The options panel's title once the watch set's chains are in.
CHAINS = re.compile(r"share of the watch set · \d+ chains?,")
#: An options row's share, volume and calls/puts: "21.8%  253.6K  148.4K/105.2K".
OPTIONS_ROW = re.compile(r"\s\d+\.\d%\s+[\d.]+[KMB]?\s+[\d.]+[KMB]?/[\d.]+[KMB]?\s")
#: The line serve prints once it listens: the URL, and the collector's pid.
URL_LINE = re.compile(r"open (http://\S+) in a browser.*collect pid (\d+)")


class PictureError(RuntimeError):
    """serve or the browser did not get to the screen to take (the message says where)."""


# ---------------------------------------------------------------------------------------------
# momoscan serve, isolated


def free_port() -> int:
    """A port of 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def isolated_env(home: Path) -> dict[str, str]:
    """This process's environment with HOME and the XDG directories under `home` (created)
    and no momoscan config file or API key: a run that reads nothing of the user's."""
    env = dict(os.environ)
    for name in ("MOMOSCAN_CONFIG", "TWELVEDATA_API_KEY", "NASDAQ_DATA_LINK_API_KEY"):
        env.pop(name, None)
    env["HOME"] = str(home)
    for name, sub in (
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_STATE_HOME", ".local/state"),
        ("XDG_CACHE_HOME", ".cache"),
    ):
        env[name] = str(home / sub)
        (home / sub).mkdir(parents=True, exist_ok=True)
    return env


@dataclass(frozen=True)
class Served:
    """A running `momoscan serve`."""

    process: subprocess.Popen[bytes]
    port: int
    url: str  # the URL it printed, token included
    collector: int  # the pid of the collector it printed
    log: Path  # its stdout and stderr


@contextlib.contextmanager
def serve(workdir: Path, *arguments: str, within: float = 120.0) -> Iterator[Served]:
    """Run `momoscan serve --port <a free port> <arguments>` in `workdir`, with HOME and the XDG
    directories under it and its output in `workdir/serve.log`, until the block ends (SIGTERM to
    its process group, a kill 30 s later). Yields once serve printed its URL, which must
    answer at once: serve prints it only once it listens.

    Raises:
        PictureError: serve exited, printed no URL within `within` seconds (a bound on a
            live system, not a figure), or printed one it does not answer on.
    """
    port = free_port()
    log = workdir / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "momoscan", "serve", "--port", str(port), *arguments],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=isolated_env(workdir / "home"),
            cwd=workdir,  # with -v, each tab's app writes textual.log where serve runs
            start_new_session=True,  # serve, its collector and its tabs' apps: one group
        )
    try:
        deadline = time.monotonic() + within
        while (found := URL_LINE.search(log.read_text(errors="replace"))) is None:
            if process.poll() is not None:
                raise PictureError(f"momoscan serve exited:\n{log.read_text()}")
            if time.monotonic() > deadline:
                raise PictureError(f"momoscan serve printed no URL:\n{log.read_text()}")
            time.sleep(0.1)
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                raise PictureError(
                    f"momoscan serve printed a URL it does not answer on: {found[1]}"
                )
        yield Served(process, port, found[1], int(found[2]), log)
    finally:
        with contextlib.suppress(ProcessLookupError):  # stopped already (a test stopped it)
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# ---------------------------------------------------------------------------------------------
# Headless Chromium


def find_browser() -> tuple[str, str] | str:
    """Chromium's binary and its WebDriver, or a sentence saying what is missing."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
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
        return (
            "no headless browser: install Chromium and its driver (Debian: apt-get install "
            "chromium chromium-driver; .ci/run does)"
        )
    return binary, driver


@contextlib.contextmanager
def chromium(
    binary: str, driver: str, profile: Path, size: tuple[int, int] = WINDOW
) -> Iterator[Any]:
    """A headless Chromium WebDriver whose page is `size` CSS pixels at one device pixel each
    (so a screenshot is exactly `size`), with `CAPTURE` injected into every page; quit when
    the block ends. `profile`: its user data directory."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        f"--window-size={size[0]},{size[1]}",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    browser = webdriver.Chrome(service=Service(driver), options=options)
    try:
        browser.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": False},
        )
        # A headless page has no window focus: without this it never sees the terminal focused.
        browser.execute_cdp_cmd("Emulation.setFocusEmulationEnabled", {"enabled": True})
        browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CAPTURE})
        yield browser
    finally:
        browser.quit()


def screen_text(browser: Any) -> str:
    """What the page's terminal shows, a line a row ("" before it exists)."""
    return str(browser.execute_script(SCREEN_TEXT))


def focus_terminal(browser: Any) -> None:
    """Give the terminal the keyboard focus, as a user's click into the page does. Textual's
    web driver starts the app as if its page had lost the focus (and its footer then shows
    no keys), and the page tells the app of a focus event only once its WebSocket is open:
    call this once the app has drawn."""
    browser.execute_script(FOCUS)


def screen_ready(screen: str) -> bool:
    """Whether `screen` shows the app with its data: the DEMO label, ten movers rows (with
    their sparklines), the options panel's chains and ten of its rows, and the footer's keys."""
    lines = screen.splitlines()
    return (
        "DEMO" in screen
        and len(MOVERS_ROW.findall(screen)) >= 10
        and CHAINS.search(screen) is not None
        and len(OPTIONS_ROW.findall(screen)) >= 10
        and bool(lines)
        and "Quit" in lines[-1]
    )


def uncovered(screen: str) -> bool:
    """Whether no notification lies over the panels. A Textual toast's left edge is a column
    of "▌" with a space on either side, three rows or more (a share bar's "▌" follows its
    blocks)."""
    lines = screen.splitlines()
    run: dict[int, int] = {}  # column: consecutive rows with an edge there, up to this one
    for line in lines:
        padded = f" {line} "
        edges = {
            i - 1
            for i, char in enumerate(padded)
            if char == "▌" and padded[i - 1] == " " and padded[i + 1] == " "
        }
        run = {column: run.get(column, 0) + 1 for column in edges}
        if any(count >= 3 for count in run.values()):
            return False
    return True


def wait_for_screen(browser: Any, url: str, within: float = 120.0) -> str:
    """Load `url` (serve's printed URL: its token becomes a cookie and the page reloads
    without it), focus the terminal and wait until `screen_ready`; the screen's text.

    Raises:
        PictureError: not within `within` seconds (a bound on app start and the first demo
            cycle, not a figure); the message holds what the screen showed.
    """
    browser.get(url)
    wait_until(browser, lambda screen: "DEMO" in screen, "the app", within)
    focus_terminal(browser)
    return wait_until(browser, screen_ready, "the app with its data", within)


def wait_until(browser: Any, condition: Callable[[str], bool], what: str, within: float) -> str:
    """Wait until the screen's text meets `condition` and is painted; that text.

    Raises:
        PictureError: not within `within` seconds; the message holds what the screen showed.
    """
    deadline = time.monotonic() + within
    while True:
        if condition(screen := screen_text(browser)):
            break
        if time.monotonic() > deadline:
            raise PictureError(f"the browser never showed {what}; it showed:\n{screen}")
        time.sleep(0.5)
    browser.execute_async_script(PAINTED)
    return screen


# ---------------------------------------------------------------------------------------------
# PNG, read with the standard library


@dataclass(frozen=True)
class Png:
    width: int
    height: int
    bpp: int  # bytes a pixel: 3 (RGB) or 4 (RGBA)
    rows: list[bytes]  # the pixels, a row each, unfiltered

    @property
    def colours(self) -> int:
        """Distinct colours (alpha included where there is one)."""
        bpp = self.bpp
        return len({row[x : x + bpp] for row in self.rows for x in range(0, len(row), bpp)})


def read_png(path: Path) -> Png:
    """An 8-bit RGB or RGBA PNG (what browsers' screenshots are), decoded with zlib and
    struct (PNG spec: chunks, IHDR, IDAT, the five filters).

    Raises:
        ValueError: not a PNG, or not 8-bit non-interlaced RGB/RGBA.
    """
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG file")
    chunks: dict[bytes, bytes] = {}
    offset = 8
    while offset + 8 <= len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        chunks[kind] = chunks.get(kind, b"") + data[offset + 8 : offset + 8 + length]
        offset += 12 + length
    if b"IHDR" not in chunks or b"IDAT" not in chunks:
        raise ValueError(f"{path}: no IHDR or IDAT chunk")
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    if depth != 8 or colour_type not in (2, 6) or interlace:
        raise ValueError(f"{path}: not an 8-bit non-interlaced RGB or RGBA PNG")
    bpp = 3 if colour_type == 2 else 4
    rows = _unfilter(zlib.decompress(chunks[b"IDAT"]), width * bpp, height, bpp)
    return Png(width, height, bpp, rows)


def _unfilter(raw: bytes, stride: int, height: int, bpp: int) -> list[bytes]:
    """PNG's scanlines without their filters (PNG spec, section 9)."""
    rows: list[bytes] = []
    previous = bytes(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        if kind == 1:  # Sub
            for x in range(bpp, stride):
                line[x] = (line[x] + line[x - bpp]) & 0xFF
        elif kind == 2:  # Up
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous, strict=True))
        elif kind == 3:  # Average
            for x in range(stride):
                left = line[x - bpp] if x >= bpp else 0
                line[x] = (line[x] + ((left + previous[x]) >> 1)) & 0xFF
        elif kind == 4:  # Paeth
            for x in range(stride):
                a = line[x - bpp] if x >= bpp else 0
                b = previous[x]
                c = previous[x - bpp] if x >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                near = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[x] = (line[x] + near) & 0xFF
        elif kind != 0:
            raise ValueError(f"unknown PNG filter {kind} on row {y}")
        previous = bytes(line)
        rows.append(previous)
    return rows


# ---------------------------------------------------------------------------------------------


def take(out: Path) -> Png:
    """Serve the demo, load it in headless Chromium, and save its screen to
    `out` (its folder created); what was saved.

    Raises:
        PictureError: no browser, serve or the page failed, or the picture came out blank
            (then `out` is left as it was).
    """
    found = find_browser()
    if isinstance(found, str):
        raise PictureError(found)
    binary, driver = found
    with tempfile.TemporaryDirectory(prefix="momoscan-pictures-") as tmp:
        work = Path(tmp)
        arguments = ("--demo", "--db", str(work / "demo.db"))
        with (
            serve(work, *arguments) as served,
            chromium(binary, driver, work / "chromium") as browser,
        ):
            wait_for_screen(browser, served.url)
            # Notifications (the viewer's, a name entering the movers) time out in seconds.
            wait_until(browser, uncovered, "the panels without a notification over them", 60.0)
            shot = work / "serve.png"
            if not browser.save_screenshot(str(shot)):
                raise PictureError("Chromium saved no screenshot")
        picture = read_png(shot)
        if picture.colours < MIN_COLOURS:
            raise PictureError(f"the screenshot has {picture.colours} colours: blank, not kept")
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, out)
    return picture


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--out", type=Path, default=PICTURE, help=f"where to write it (default {PICTURE})"
    )
    args = parser.parse_args(argv)
    try:
        picture = take(args.out)
    except PictureError as exc:
        print(f"pictures: {exc}", file=sys.stderr)
        return 1
    print(
        f"wrote {args.out}: {picture.width}x{picture.height}, {picture.colours} colours, "
        f"{args.out.stat().st_size:,} bytes"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
