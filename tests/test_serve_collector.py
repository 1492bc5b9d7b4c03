"""`momoscan serve` runs one collector for its tabs: each tab is a viewer of it.

The relay and the stop are proved on a stand-in child; serve itself on a real 127.0.0.1 server
with the demo, whose tabs are WebSocket clients speaking textual-serve's protocol (what the
page's JavaScript does; test_serve.py drives the page itself in Chromium)."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import anyio
import pytest

# scripts/pictures.py, which starts serve for the README's picture and for these tests
# (test_serve.py loads it by path).
from test_serve import pictures

from momoscan.exits import EXIT_USAGE
from momoscan.role import lock_path, read_state
from momoscan.serve import build_serve_parser, plan
from momoscan.serve_collector import CollectorChild, message_key
from momoscan.store import Store

LINUX = sys.platform.startswith("linux")


def test_the_collector_gets_the_tabs_arguments() -> None:
    args = build_serve_parser().parse_args(
        ["--demo", "--db", "/tmp/x y.db", "--demo-size", "40", "--interval", "5", "--port", "9"]
    )
    served = plan(args, python="py")
    assert (
        served.command
        == "exec py -m momoscan --db '/tmp/x y.db' --demo-size 40 --interval 5.0 --demo"
    )
    assert served.collect == (
        "py", "-m", "momoscan", "collect",
        "--db", "/tmp/x y.db", "--demo-size", "40", "--interval", "5.0", "--demo",
    )  # fmt: skip


def test_a_message_is_the_same_whatever_its_numbers() -> None:
    assert message_key("cycle 3: 12 refused (429)") == message_key("cycle 14: 2 refused (429)")
    assert message_key("the key was rejected") != message_key("the stream stalled")


#: A stand-in collector: says a few things (one of them every "cycle"), then waits or exits.
CHILD = r"""
import signal, sys, time
if "ignore-term" in sys.argv:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
err = sys.stderr
err.write("momoscan: Running on the simulated market: --demo given.\n")
for cycle in range(1, 4):
    err.write(f"momoscan: cycle {cycle}: Twelve Data rejected the API key (401).\n")
err.write("\n")
err.write("momoscan: the stream stalled\n")
err.flush()
if "exit" in sys.argv:
    sys.exit(3)
print("READY", flush=True)
while True:
    time.sleep(0.1)
"""


def _child(*flags: str) -> tuple[CollectorChild, io.StringIO]:
    err = io.StringIO()
    child = CollectorChild([sys.executable, "-c", CHILD, *flags], err=err)
    child.start()
    return child, err


def test_each_message_reaches_serve_once_and_a_collector_that_dies_is_said() -> None:
    child, err = _child("exit")
    try:
        assert child.wait(60) == 3
    finally:
        child.stop()
    pid = child.pid
    assert err.getvalue().splitlines() == [
        "momoscan serve: collector: Running on the simulated market: --demo given.",
        "momoscan serve: collector: cycle 1: Twelve Data rejected the API key (401).",
        "momoscan serve: collector: the stream stalled",
        f"momoscan serve: the collector (momoscan collect, pid {pid}) exited with code 3; it is "
        "not restarted: an open tab takes over collecting within a second or so, or else the "
        "next tab opened does.",
    ]


def test_stopping_it_is_not_news_and_a_child_that_ignores_sigterm_is_killed() -> None:
    child, err = _child()
    assert child.wait_started(60)
    assert child.stop() == -signal.SIGTERM
    assert "exited" not in err.getvalue() and "killed" not in err.getvalue()

    stubborn, err = _child("ignore-term")
    assert stubborn.wait_started(60)
    # Its first word is out; give it the time to set its SIGTERM handler (the READY line
    # goes to its stdout, which is dropped, so wait on the relayed messages instead).
    deadline = time.monotonic() + 60
    while "the stream stalled" not in err.getvalue() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stubborn.stop(grace=0.5) == -signal.SIGKILL
    assert "momoscan serve: the collector did not stop within 0.5 s: killed." in err.getvalue()
    assert stubborn.stop() == -signal.SIGKILL  # a second stop is harmless


# ---------------------------------------------------------------------------------------------
# The real thing: serve, its collector, two tabs


def _cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]


def _children(pid: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(entry))
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _until(condition: object, what: str, within: float = 120) -> None:
    """Wait for `condition()` (a bound on a live system, not a figure being tested)."""
    deadline = time.monotonic() + within
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"never: {what}")
        time.sleep(0.1)


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    url: str
    collector: int
    db: Path
    log: Path


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    if not LINUX:
        pytest.skip("counts processes through /proc")
    db = tmp_path / "demo.db"
    # Started as scripts/pictures.py starts it; it checks the printed URL answers at once.
    with pictures.serve(tmp_path, "--demo", "--demo-size", "30", "--db", str(db)) as running:
        yield Served(running.process, running.url, running.collector, db, running.log)


def _state(db: Path) -> tuple[int, str, float | None] | None:
    with Store(db) as store:
        state = read_state(store)
    return None if state is None else (state.pid, state.command, state.stopped_at)


async def _tabs(url: str, count: int, needed: list[str]) -> list[str]:
    """Open `count` tabs; return what each app drew once every one shows all of `needed`."""
    root = url.split("/?", 1)[0]
    screens = [""] * count
    async with aiohttp.ClientSession() as http:
        async with http.get(url, allow_redirects=False) as answer:  # the token: a cookie
            cookie = answer.headers["Set-Cookie"].split(";", 1)[0]
        sockets = [
            await http.ws_connect(
                f"{root}/ws?width=140&height=40", origin=root, headers={"Cookie": cookie}
            )
            for _ in range(count)
        ]

        async def read(i: int) -> None:
            async for message in sockets[i]:
                if message.type == aiohttp.WSMsgType.BINARY:
                    screens[i] += message.data.decode(errors="replace")
                    if all(text in screens[i] for text in needed):
                        return

        with anyio.fail_after(120):  # a bound on app start, not a figure
            async with anyio.create_task_group() as tg:
                for i in range(count):
                    tg.start_soon(read, i)
        for ws in sockets:
            await ws.close()
    return screens


@pytest.mark.anyio
async def test_two_tabs_are_viewers_of_the_one_collector_serve_started(served: Served) -> None:
    collector = served.collector
    # The collector serve started: a child of serve, with the tabs' arguments.
    assert _children(served.process.pid) == [collector]
    assert _cmdline(collector)[1:] == [
        "-m", "momoscan", "collect", "--db", str(served.db), "--demo-size", "30", "--demo",
    ]  # fmt: skip
    # It holds the database's role: its published state names it.
    _until(lambda: _state(served.db) is not None, "the collector published its state")
    assert _state(served.db) == (collector, "momoscan collect", None)

    viewer_of = f"momoscan collect (pid {collector})"
    screens = await _tabs(served.url, 2, ["VIEWER", viewer_of, "Top movers"])
    assert len(screens) == 2
    # Still one collector, and the tabs started no process of their own: no simulated market,
    # no parse worker (a collector tab would have both).
    assert _state(served.db) == (collector, "momoscan collect", None)
    tabs = [pid for pid in _children(served.process.pid) if pid != collector]
    for tab in tabs:
        assert _children(tab) == [], _cmdline(tab)
    log = served.log.read_text()
    assert "each tab is a viewer of one collector" in log
    assert "momoscan serve: collector: Running on the simulated market" in log


def test_the_collector_stops_with_serve(served: Served) -> None:
    collector = served.collector
    _until(lambda: _state(served.db) is not None, "the collector published its state")
    os.kill(served.process.pid, signal.SIGTERM)  # serve alone: it stops its collector itself
    assert served.process.wait(timeout=60) == 0
    assert not _alive(collector)
    state = _state(served.db)
    assert state is not None and state[0] == collector and state[2] is not None  # stopped_at
    # ...and let its lock go: another process can take the role now.
    from momoscan.role import CollectorLock

    lock = CollectorLock(served.db)
    assert lock.try_acquire()
    lock.release()
    assert lock_path(served.db).exists()
    log = served.log.read_text()
    assert "momoscan serve: collector: stopped." in log
    assert "exited with code" not in log and "was killed" not in log


def _collectors_of(db: Path) -> list[int]:
    """The processes whose command line names `db`: a collector, or an app, of that database."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and entry != str(os.getpid()):
            try:
                if str(db) in _cmdline(int(entry)) and _alive(int(entry)):
                    found.append(int(entry))
            except OSError:
                continue
    return found


def test_a_taken_port_fails_in_one_line_and_leaves_no_collector(tmp_path: Path) -> None:
    if not LINUX:
        pytest.skip("looks for processes through /proc")
    db = tmp_path / "demo.db"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "momoscan",
                "serve",
                "--port",
                str(port),
                "--demo",
                "--db",
                str(db),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == EXIT_USAGE
    [line] = result.stderr.splitlines()  # one line, and no URL
    assert line.startswith(
        f"momoscan serve: cannot listen on 127.0.0.1:{port}: the port is in use "
    )
    assert "choose another with --port N" in line
    assert not db.exists()  # no collector ever opened it...
    assert _collectors_of(db) == []  # ...and none is left running


def test_of_two_serves_on_one_port_one_prints_a_url_and_the_other_fails(tmp_path: Path) -> None:
    """Started together on one free port: exactly one binds it and says where to open; the
    other fails in one line without starting a collector, so no URL is ever printed that its
    printer does not serve."""
    if not LINUX:
        pytest.skip("looks for processes through /proc")
    port = pictures.free_port()
    runs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        with (tmp_path / name / "serve.log").open("wb") as sink:
            runs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "momoscan", "serve", "--port", str(port), "--demo",
                     "--demo-size", "30", "--db", str(tmp_path / name / "demo.db")],
                    stdout=subprocess.DEVNULL,
                    stderr=sink,
                    env=pictures.isolated_env(tmp_path / name / "home"),
                    start_new_session=True,
                )
            )  # fmt: skip
    try:
        # The loser exits at once; the winner runs until it is stopped.
        _until(lambda: sum(run.poll() is not None for run in runs) >= 1, "one serve exited")
        [loser] = [run for run in runs if run.poll() is not None]
        [winner] = [run for run in runs if run is not loser]
        folder = tmp_path / ("a" if loser is runs[0] else "b")
        other = tmp_path / ("b" if loser is runs[0] else "a")
        assert loser.returncode == EXIT_USAGE
        [line] = (folder / "serve.log").read_text().splitlines()
        assert f"cannot listen on 127.0.0.1:{port}: the port is in use" in line
        assert _collectors_of(folder / "demo.db") == []
        _until(
            lambda: pictures.URL_LINE.search((other / "serve.log").read_text()) is not None,
            "the other serve printed its URL",
        )
        assert winner.poll() is None
        with socket.create_connection(("127.0.0.1", port), timeout=10):
            pass
    finally:
        for run in runs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(run.pid, signal.SIGTERM)
            run.wait(timeout=30)
    assert _collectors_of(tmp_path / "a" / "demo.db") == []
    assert _collectors_of(tmp_path / "b" / "demo.db") == []
