"""Key-to-screen on the drill-down (issue 10, item 6): from `s` written to the terminal to the
frame showing the re-sorted 38,000-contract chain, read back from the terminal, on a machine
with every core busy.

The app runs as a user runs it: its real terminal driver on a pseudo-terminal, the simulated
market refreshing in the background, SPX's every contract (38,042, traded or not) in the
drill-down. This process writes `s` to the terminal and reads what the app draws until the
title says the new sort: that is key to screen, terminal I/O included. Keys go 0.5 s apart
(the issue's pace); each must land on exactly the next column, none skipped or repeated.

    .venv/bin/python bench/keys.py            # loaded (a busy loop per core) and idle
    .venv/bin/python bench/keys.py --before   # the same against the DataTable drill-down
"""

from __future__ import annotations

import json
import math
import os
import pty
import re
import select
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

APP = """
import sys, time
from datetime import date, datetime
sys.path.insert(0, {extra!r})
from momoscan import market_hours as mh
from momoscan.clock import FixedClock
from momoscan.config import Settings
from momoscan.queries import ContractRow
from momoscan.runtime import RunOptions
from momoscan.simulated.market import SimMarket
from momoscan.simulated.options import ChainFactory
from momoscan.sources.cboe import parse_chain
from momoscan.tui.app import MomoscanApp

DAY = date(2026, 11, 19)
market = SimMarket(7, 0, FixedClock(datetime.combine(DAY, mh.OPEN, tzinfo=mh.ET).replace(hour=14)))
chain = parse_chain(ChainFactory(market).chain_body("SPX"), "SPX")
total = sum(chain.volumes) or 1
rows = []
for i, symbol in enumerate(chain.symbols):
    volume, oi = chain.volumes[i], chain.open_interest[i]
    expiry = chain.expiries[i]
    rows.append(ContractRow(
        contract=symbol, expiry=expiry, days_to_expiry=(expiry - DAY).days,
        strike=chain.strikes[i], right=chain.rights[i], volume=volume, open_interest=oi,
        vol_oi=volume / oi if oi else None, iv=chain.ivs[i], last=chain.lasts[i],
        last_trade=chain.last_trades[i], pct_of_underlying=volume / total,
        unusual=volume >= 500 and (oi == 0 or volume >= 1.25 * oi)))
rows.sort(key=lambda c: (-c.volume, c.contract))

settings = Settings()
settings.scan.refresh_interval = {interval}  # the market keeps refreshing underneath
options = RunOptions(db={db!r}, demo_latency=0.03)

if {before!r}:
    from old_contracts import ContractsScreen as Drill
else:
    from momoscan.tui.screens.contracts import ContractsScreen as Drill

# The UI thread's own work per key: the sort action, then the next frame's render.
import atexit, json
UI, SORT, pending = [], [], []
sort_action, frame = Drill.action_cycle_sort, Drill._on_timer_update

def timed_sort(self):
    started = time.perf_counter()
    sort_action(self)
    pending.append(time.perf_counter() - started)
    SORT.append(pending[-1] * 1000)

def timed_frame(self):
    started = time.perf_counter()
    frame(self)
    if pending:
        UI.append((pending.pop() + time.perf_counter() - started) * 1000)
        pending.clear()

Drill.action_cycle_sort, Drill._on_timer_update = timed_sort, timed_frame
atexit.register(lambda: open({ui!r}, "w").write(json.dumps({{"ui": UI, "sort": SORT}})))


class Bench(MomoscanApp):
    def start(self):
        super().start()
        self.set_timer(3.0, self.drill)

    def drill(self):
        if {before!r}:
            self.push_screen(Drill("SPX", DAY, rows, total))
        else:
            from momoscan.tui.widgets.contract_table import ContractData
            self.push_screen(Drill("SPX", DAY, ContractData(rows)))

print("contracts", len(rows), file=sys.stderr)
Bench(settings, options).run()
"""

LABELS = [
    "Volume",
    "Open int.",
    "Vol/OI",
    "IV",
    "Last",
    "% of und.",
    "Contract",
    "Expiry",
    "DTE",
    "Strike",
    "C/P",
]


def _old_module(directory: Path) -> None:
    """The DataTable drill-down as it was before issue 10, importable as `old_contracts`."""
    source = subprocess.run(
        ["git", "show", "d203866:src/momoscan/tui/screens/contracts.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    source = source.replace("from ... import format", "from momoscan import format")
    source = source.replace("from ...queries import", "from momoscan.queries import")
    (directory / "old_contracts.py").write_text(source)


class Terminal:
    """The app on a pseudo-terminal; what it draws is collected with arrival times."""

    def __init__(self, script: str, size: tuple[int, int] = (150, 45)) -> None:
        master, slave = pty.openpty()
        os.set_blocking(master, False)
        import fcntl
        import struct
        import termios

        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(size[0])}
        self.process = subprocess.Popen(
            [sys.executable, "-c", script],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        self.master = master
        self.chunks: list[tuple[float, bytes]] = []
        self.lock = threading.Lock()
        self.done = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while not self.done:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            with self.lock:
                self.chunks.append((time.perf_counter(), data))

    def mark(self) -> int:
        with self.lock:
            return len(self.chunks)

    def wait_for(self, pattern: bytes, since: int, timeout: float = 30.0) -> float:
        """Arrival time of the first output after chunk `since` that contains `pattern`
        (searched across chunk boundaries)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                chunks = self.chunks[since:]
            text = b""
            for at, data in chunks:
                text += data
                # Styles and cursor moves can fall between the words: search plain text.
                plain = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", text)
                if pattern in plain:
                    return at
            time.sleep(0.005)
        raise TimeoutError(f"{pattern!r} never drawn")

    def send(self, key: bytes) -> float:
        sent = time.perf_counter()
        os.write(self.master, key)
        return sent

    def close(self) -> None:
        try:
            os.write(self.master, b"q")
            self.process.wait(timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        self.done = True
        os.close(self.master)


def _busy_loops(count: int) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def bench_keys(
    *, loaded: bool = True, before: bool = False, presses: int = 22, interval: float = 5.0
) -> dict[str, float]:
    """Key-to-screen of `s` on SPX's 38,042-contract drill-down, `presses` times 0.5 s
    apart (twice round the columns), with a busy loop per core when `loaded` and the demo
    refreshing every `interval` seconds underneath. Milliseconds, min / median / max: from
    the key written to the terminal to the re-sorted frame read back from it (`screen_*`);
    the UI thread's own work for it, the sort and that frame's render and write (`ui_*`), of
    which the sort itself (`sort_*`); and how many keys did not land on exactly the next
    column (`wrong`)."""
    load = _busy_loops(os.cpu_count() or 1) if loaded else []
    with tempfile.TemporaryDirectory() as tmp:
        if before:
            _old_module(Path(tmp))
        ui_file = Path(tmp) / "ui.json"
        script = textwrap.dedent(APP).format(
            db=str(Path(tmp) / "keys.db"),
            before=before,
            extra=tmp,
            interval=interval,
            ui=str(ui_file),
        )
        term = Terminal(script)
        try:
            term.wait_for(b"sorted by Volume", 0, timeout=120)
            time.sleep(1.0)
            times, wrong = [], 0
            for i in range(presses):
                label = LABELS[(i + 1) % len(LABELS)]
                since = term.mark()
                sent = term.send(b"s")
                try:
                    drawn = term.wait_for(f"sorted by {label} ".encode(), since, timeout=20)
                    times.append((drawn - sent) * 1000)
                except TimeoutError:
                    wrong += 1
                time.sleep(0.5)
        finally:
            term.close()
            for process in load:
                process.kill()
                process.wait()
        work = json.loads(ui_file.read_text()) if ui_file.exists() else {}

    def stats(values: list[float], name: str) -> dict[str, float]:
        if not values:
            return {f"{name}_min_ms": math.nan, f"{name}_median_ms": math.nan}
        return {
            f"{name}_min_ms": min(values),
            f"{name}_median_ms": statistics.median(values),
            f"{name}_max_ms": max(values),
        }

    return {
        **stats(times, "screen"),
        **stats(work.get("ui", []), "ui"),
        **stats(work.get("sort", []), "sort"),
        "presses": presses,
        "wrong": wrong,
    }


if __name__ == "__main__":
    before = "--before" in sys.argv
    for loaded in (True, False):
        result = bench_keys(loaded=loaded, before=before)
        label = "loaded" if loaded else "idle"
        print(json.dumps({"load": label, "before": before, **result}))
