"""Memory of `momoscan serve` with 1, 2 and 5 tabs (issue 25, item 4): one collector, viewers.

Starts `momoscan serve --demo --db <tmp>` (`--demo-size N` if given) on a free port of
127.0.0.1 (with `--max-sessions` raised to the most tabs asked for), then opens tabs one after
the other until each count of `--tabs` is reached. A tab is a WebSocket client speaking
textual-serve's protocol as the page's JavaScript does (`/ws?width=..&height=..` with the
cookie the printed URL gives; the app's output arrives as binary frames): a browser would add
its own memory, not serve's. A tab counts as up when its app drew the status bar's VIEWER
mark and a table (`Top movers`). Once all tabs of a count are up, it waits `--settle` seconds
and measures, CPU over those seconds included.

Measured from /proc (Linux): the process tree under serve, each process's PSS (from
/proc/<pid>/smaps_rollup: shared pages split between the processes that map them, so the
sum is the tree's real cost) and RSS (each process's resident pages, shared ones counted in
every process), and the CPU time it used over the settle (user + system, as a share of one
core). Each process is named by its role: serve, the collector (`momoscan collect`,
which serve starts), the collector's workers (the simulated market, the payload parser), a
tab's app, a tab's workers. Also counted: the processes that hold the collector's lock (from
/proc/locks: the lock file's inode), the collector the database names (its published state:
pid and command), and the simulated markets (worker processes that map NumPy: the market is
the only worker that imports it).

`--imports` instead prints what a viewer tab's app imports that a viewer does not need, each
in a fresh interpreter: the RSS and the packages that `momoscan.tui.app` (what a tab runs), and
each of its heavy parts alone, add over what a viewer reads with (Textual, and momoscan's
role, store and queries modules).

    .venv/bin/python bench/serve_tabs.py                    # 1, 2, 5 tabs; about 2 minutes
    .venv/bin/python bench/serve_tabs.py --tabs 1,3 --demo-size 2000
    .venv/bin/python bench/serve_tabs.py --imports
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from momoscan.role import lock_path, read_state
from momoscan.store import Store

PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- /proc ------------------------------------------------------------------------------------


def children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def tree(root: int) -> list[int]:
    kids = children_map()
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, []))
    return out


def memory(pid: int) -> dict[str, int]:
    """PSS and RSS in KiB (smaps_rollup)."""
    figures = {"pss": 0, "rss": 0}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("Pss", "Rss"):
                figures[name.lower()] = int(rest.split()[0])
    return figures


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


def cpu_ticks(pid: int) -> int:
    """User + system CPU time of `pid`, in clock ticks (/proc/<pid>/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


TICK = os.sysconf("SC_CLK_TCK")


def parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return 0


def maps_numpy(pid: int) -> bool:
    try:
        return "_multiarray_umath" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def lock_holders(path: Path) -> list[int]:
    """Pids holding a lock on `path` (/proc/locks: FLOCK and POSIX locks by inode)."""
    try:
        inode = path.stat().st_ino
    except OSError:
        return []
    holders = []
    for line in Path("/proc/locks").read_text().splitlines():
        parts = line.split()
        if "->" in parts:  # a waiter
            continue
        # "1: FLOCK  ADVISORY  WRITE 4242 08:01:123456 0 EOF"
        if len(parts) >= 6 and parts[5].rsplit(":", 1)[-1] == str(inode):
            holders.append(int(parts[4]))
    return sorted(set(holders))


# -- tabs -------------------------------------------------------------------------------------


@dataclass
class Tab:
    ws: aiohttp.ClientWebSocketResponse
    text: str = ""  # the app's output so far (escape sequences and all), tail kept
    task: asyncio.Task[None] | None = None
    up_after: float | None = None
    started: float = field(default_factory=time.monotonic)

    async def read(self) -> None:
        async for message in self.ws:
            if message.type == aiohttp.WSMsgType.BINARY:
                self.text = (self.text + message.data.decode(errors="replace"))[-400_000:]
                if self.up_after is None and self.up():
                    self.up_after = time.monotonic() - self.started

    def up(self) -> bool:
        return "VIEWER" in self.text and "Top movers" in self.text


@contextlib.asynccontextmanager
async def serve(
    db: Path, size: int | None, sessions: int
) -> AsyncIterator[tuple[Any, str, int, Path]]:
    port = free_port()
    log = db.with_name("serve.log")
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "momoscan",
                "serve",
                "--demo",
                "--db",
                str(db),
                "--port",
                str(port),
                "--max-sessions",
                str(sessions),
                *(["--demo-size", str(size)] if size is not None else []),
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        printed = None
        while printed is None:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"momoscan serve did not start:\n{log.read_text()}")
            printed = re.search(r"open (http://\S+) in a browser", log.read_text())
            await asyncio.sleep(0.1)
        collector = re.search(r"momoscan collect pid (\d+)", log.read_text())
        assert collector, log.read_text()
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            await asyncio.sleep(0.1)
        yield process, printed.group(1), int(collector.group(1)), log
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


async def open_tab(http: aiohttp.ClientSession, url: str) -> Tab:
    root = url.split("/?", 1)[0]
    async with http.get(url, allow_redirects=False) as answer:  # the token becomes a cookie
        cookie = answer.headers["Set-Cookie"].split(";", 1)[0]
    ws = await http.ws_connect(
        f"{root}/ws?width=160&height=48", origin=root, headers={"Cookie": cookie}
    )
    tab = Tab(ws)
    tab.task = asyncio.create_task(tab.read())
    return tab


def roles(
    serve_pid: int, collector_pid: int, tabs_seen: set[int], cpu: dict[int, tuple[int, float]]
) -> list[dict[str, Any]]:
    rows = []
    for pid in tree(serve_pid):
        argv = cmdline(pid)
        if not argv:
            continue
        up = parent(pid)
        if pid == serve_pid:
            role = "serve"
        elif pid == collector_pid:
            role = "collector"
        elif up == collector_pid:
            role = "collector worker (market)" if maps_numpy(pid) else "collector worker"
        elif up == serve_pid and "momoscan" in argv:
            role = "tab"
            tabs_seen.add(pid)
        elif up in tabs_seen:
            role = "tab worker (market)" if maps_numpy(pid) else "tab worker"
        else:
            role = "other: " + " ".join(argv)[:60]
        ticks, at = cpu_ticks(pid), time.monotonic()
        before = cpu.get(pid)
        share = None
        if before is not None and at > before[1]:
            share = round((ticks - before[0]) / TICK / (at - before[1]), 3)
        rows.append(
            {"pid": pid, "role": role, "numpy": maps_numpy(pid), "cpu": share, **memory(pid)}
        )
    return rows


def cpu_now(serve_pid: int) -> dict[int, tuple[int, float]]:
    return {pid: (cpu_ticks(pid), time.monotonic()) for pid in tree(serve_pid)}


def measure(
    serve_pid: int,
    collector_pid: int,
    db: Path,
    tabs: list[Tab],
    cpu: dict[int, tuple[int, float]],
) -> dict[str, Any]:
    seen: set[int] = set()
    rows = roles(serve_pid, collector_pid, seen, cpu)
    with Store(db) as store:
        state = read_state(store)
    markets = [r["pid"] for r in rows if "(market)" in r["role"]]
    tab_rows = [r for r in rows if r["role"].startswith("tab")]
    tab_pss = [r["pss"] for r in rows if r["role"] == "tab"]
    by_role: dict[str, dict[str, float]] = {}
    for r in rows:
        key = "tab" if r["role"] == "tab" else r["role"]
        entry = by_role.setdefault(
            key, {"processes": 0, "pss_kib": 0, "rss_kib": 0, "cpu_cores": 0.0}
        )
        entry["processes"] += 1
        entry["pss_kib"] += r["pss"]
        entry["rss_kib"] += r["rss"]
        entry["cpu_cores"] = round(entry["cpu_cores"] + (r["cpu"] or 0.0), 3)
    return {
        "tabs": len(tabs),
        "tabs_up_after_s": [round(t.up_after or -1, 1) for t in tabs],
        "total_pss_mib": round(sum(r["pss"] for r in rows) / 1024, 1),
        "total_rss_mib": round(sum(r["rss"] for r in rows) / 1024, 1),
        "per_tab_pss_mib": round(sum(tab_pss) / max(len(tab_pss), 1) / 1024, 1),
        "per_tab_rss_mib": round(
            sum(r["rss"] for r in rows if r["role"] == "tab") / max(len(tab_pss), 1) / 1024, 1
        ),
        "tab_workers": len(tab_rows) - len(tab_pss),
        "total_cpu_cores": round(sum(r["cpu"] or 0.0 for r in rows), 3),
        "by_role": by_role,
        "lock_holders": lock_holders(lock_path(db)),
        "state": None
        if state is None
        else {"pid": state.pid, "command": state.command, "stopped": state.stopped_at},
        "collectors": len(lock_holders(lock_path(db))),
        "simulated_markets": len(markets),
        "tabs_showing_viewer": sum("VIEWER" in t.text for t in tabs),
        "processes": rows,
    }


async def run(counts: list[int], size: int | None, settle: float) -> dict[str, Any]:
    results = []
    with tempfile.TemporaryDirectory(prefix="momoscan-serve-tabs-") as tmp:
        db = Path(tmp) / "demo.db"
        async with (
            serve(db, size, max(counts)) as (process, url, collector, _log),
            aiohttp.ClientSession() as http,
        ):
            tabs: list[Tab] = []
            cpu = cpu_now(process.pid)
            await asyncio.sleep(settle)
            results.append(measure(process.pid, collector, db, tabs, cpu))
            print(f"0 tabs: {results[-1]['total_pss_mib']} MiB PSS", file=sys.stderr)
            for count in counts:
                while len(tabs) < count:
                    tabs.append(await open_tab(http, url))
                deadline = time.monotonic() + 180
                while not all(t.up() for t in tabs):
                    if time.monotonic() > deadline:
                        raise SystemExit(
                            "a tab never showed VIEWER and Top movers: "
                            + repr(next(t.text[-2000:] for t in tabs if not t.up()))
                        )
                    await asyncio.sleep(0.2)
                cpu = cpu_now(process.pid)
                await asyncio.sleep(settle)
                results.append(measure(process.pid, collector, db, tabs, cpu))
                print(
                    f"{count} tabs: {results[-1]['total_pss_mib']} MiB PSS, "
                    f"{results[-1]['per_tab_pss_mib']} MiB a tab, "
                    f"{results[-1]['total_cpu_cores']} cores",
                    file=sys.stderr,
                )
            for tab in tabs:
                await tab.ws.close()
                if tab.task is not None:
                    tab.task.cancel()
    return {"demo_size": size, "settle_s": settle, "runs": results}


# -- imports ----------------------------------------------------------------------------------

IMPORTS = r"""
import gc, importlib, json, sys
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
gc.collect()
before, base = rss(), set(sys.modules)
for name in json.loads(sys.argv[2]):
    importlib.import_module(name)
gc.collect()
new = set(sys.modules) - base
print(json.dumps({
    "base_rss_kib": before,
    "adds_rss_kib": rss() - before,
    "adds_modules": len(new),
    "adds_packages": sorted({m.split(".")[0] for m in new if not m.startswith("_")}),
}))
"""

#: What a viewer reads with, below its screen: the published state, the store, the queries.
VIEWER_BASE = ["textual.app", "momoscan.role", "momoscan.store", "momoscan.queries"]
#: Measured one at a time over VIEWER_BASE: what a tab's app (`momoscan.tui.app`) adds, and
#: the parts of it that a viewer does not use (the engine and its HTTP stack, the runtime that
#: builds a collector, NumPy for the contracts screen's sorting).
OVER_BASE = [
    "momoscan.tui.app",
    "numpy",
    "httpx",
    "momoscan.engine.store_thread",
    "momoscan.viewer",
    "momoscan.runtime",
    "momoscan.attach",
    "momoscan.tui.screens.contracts",
]


def imports() -> dict[str, Any]:
    def over(base: list[str], extra: list[str]) -> dict[str, Any]:
        out = subprocess.run(
            [PYTHON, "-c", IMPORTS, json.dumps(base), json.dumps(extra)],
            capture_output=True,
            text=True,
            check=True,
        )
        return dict(json.loads(out.stdout))

    return {
        "python_to_textual_app": over([], ["textual.app"]),
        "textual_app_to_viewer_base": over(["textual.app"], VIEWER_BASE[1:]),
        "over_viewer_base": {name: over(VIEWER_BASE, [name]) for name in OVER_BASE},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--tabs", default="1,2,5", help="tab counts, in order (default 1,2,5)")
    parser.add_argument(
        "--demo-size", type=int, help="simulated universe (default: serve's, [demo] size)"
    )
    parser.add_argument(
        "--settle", type=float, default=20.0, help="seconds before measuring (CPU over them)"
    )
    parser.add_argument("--imports", action="store_true", help="what a viewer tab imports")
    args = parser.parse_args()
    if args.imports:
        doc = imports()
    else:
        counts = sorted(int(n) for n in args.tabs.split(","))
        doc = asyncio.run(run(counts, args.demo_size, args.settle))
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
