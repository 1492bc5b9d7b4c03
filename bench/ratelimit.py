"""Benchmark of the Twelve Data credit budget (issue: full plan rate, never over it).

A real HTTP server on 127.0.0.1 (an ephemeral port, a background thread) answers Twelve Data's
/quote in the wire format of `SimServer`, with a credit limit of `limit` per fixed window of
`window` seconds aligned to the wall clock like a clock minute (floor(time / window)), and an
in-body 429 (HTTP 200) for a request whose credits exceed what is left in the window. The window
is scaled down from 60 s so that the whole bench runs in about a minute.

Scenarios, one after another in one process, each on a server of its own:

- momoscan: `TwelveDataClient` over a `CreditBudget(limit, window, margin=window / 60)` (the
  app's 1 s per minute, scaled), swept as the engine does it: up to 4 requests in flight,
  `granted = await budget.take(min(120, left))` then `quote_batch(symbols[:granted])`.
- naive: `aiolimiter.AsyncLimiter(limit, window)` before each batch of 120, plain httpx, and on a
  429 a wait for the next window boundary and a retry of the same batch.
- restart: momoscan's client spends about 1.5 windows of credits and stops; a new client and
  budget, seeded with the first budget's ledger (`spent=first.entries()`, as the app does from
  its database), sweeps the rest within the same window.
- restart, unseeded (a control): the same restart with an empty ledger, to show what the seed
  prevents.

Figures per scenario:

- `share_min`, `share_median`, `share_max`: credits the server accepted in a window as a share
  of the limit, over the sweep's full windows only: the first window (the sweep starts inside
  it) and the last (the sweep ends inside it) are excluded. `shares` lists every window from the
  first to the last that accepted credits, partial ones included. The server never accepts more
  than the limit, so no share exceeds 1.0 by construction: a client that tries to overspend
  shows up as 429s, which is why `server_429` is the figure to read for "never over".
- `server_429`: 429s the server sent (the truth); `client_429`: 429s the client saw.
- `time_s`: first request to last answer; `ideal_s`: the time a client that knew the server's
  window alignment would need (a window's credits at once, then a window's at each boundary).
- `rate`: symbols swept / `time_s`, as a share of limit / window. A short sweep from an empty
  ledger spends a full window's credits at once, so n x limit symbols take about n - 1 windows:
  for 3 x limit, about 1.5 for a perfect client. Compare scenarios with each other.

Each sweep starts `PHASE` of the way into a server window. The budget frees a window's credits
every window + margin seconds, so its grants drift 1/60 of a window later each window: started
late in a window (phase 0.97), a 3 x limit sweep shows a full window with no credits at all.

Run it with `python bench/ratelimit.py [multiple]` (a little over a minute with the default 3).
`python bench/ratelimit.py --serve [limit]` serves a stand-in of the API with real one-minute
windows (default 55 credits a minute) for the app itself to be pointed at.
"""

from __future__ import annotations

import http.server
import logging
import math
import statistics
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import anyio
import httpx
import orjson
from aiolimiter import AsyncLimiter

from momoscan import market_hours as mh
from momoscan.clock import FixedClock
from momoscan.simulated.market import SimMarket
from momoscan.simulated.transport import CreditMeter, SimServer
from momoscan.sources.errors import SourceError
from momoscan.sources.ratelimit import CreditBudget
from momoscan.sources.twelvedata import MAX_BATCH, TwelveDataClient, parse_quote_body

LIMIT = 240  # credits per window
WINDOW = 6.0  # seconds: a minute scaled down by 10
MULTIPLE = 3  # the universe is MULTIPLE x LIMIT symbols
PHASE = 0.25  # each sweep starts this far into a server window (a cron run starts mid-minute)
CONCURRENCY = 4  # requests in flight, as the engine's default
KEY = "bench-key"
AT = datetime(2026, 11, 19, 11, 0, tzinfo=mh.ET)  # a trading day, 11:00 New York


# -- the server ----------------------------------------------------------------------------------


class WindowMeter(CreditMeter):
    """`CreditMeter` that also records, per window id, the credits accepted and the 429s sent."""

    def __init__(self, limit: int, *, window: float):
        super().__init__(limit, window=window)
        self._outer = threading.Lock()  # the meter's own lock is not reentrant
        self.accepted: dict[int, int] = defaultdict(int)
        self.refused: dict[int, int] = defaultdict(int)

    def charge(self, credits: int) -> tuple[bool, int, int]:
        with self._outer:
            result = super().charge(credits)
            if result[0]:
                self.accepted[self._window_id] += credits
            else:
                self.refused[self._window_id] += 1
            return result

    def peek(self) -> tuple[int, int]:
        with self._outer:  # a peek may roll the window: keep it out of a charge's bookkeeping
            return super().peek()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Twelve Data's front end
    timeout = 15  # an idle connection the client forgot closes itself

    def do_GET(self) -> None:
        sim: SimServer = self.server.sim  # type: ignore[attr-defined]
        headers = {k.lower(): v for k, v in self.headers.items()}
        url = f"http://{headers.get('host', '127.0.0.1')}{self.path}"
        status, out, body = sim.handle("GET", url, headers)
        self.send_response(status)
        for name, value in out.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins the connection threads
    block_on_close = True


@dataclass
class Served:
    url: str
    meter: WindowMeter
    symbols: list[str]


@contextmanager
def serve(limit: int, window: float, symbols: int) -> Iterator[Served]:
    """A credit-metered Twelve Data /quote on 127.0.0.1, shut down (threads joined) on exit."""
    market = SimMarket(7, max(1000, symbols), FixedClock(AT))
    market.now_state()  # build the day now, not on the first timed request
    sim = SimServer(market, plan_limit=limit, window=window)
    meter = sim.meter = WindowMeter(limit, window=window)
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.sim = sim  # type: ignore[attr-defined]
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="bench-td-server"
    )
    thread.start()
    try:
        port = httpd.server_address[1]
        universe = sorted(s.symbol for s in market.stocks)[:symbols]
        yield Served(f"http://127.0.0.1:{port}", meter, universe)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=30)


# -- the clients ---------------------------------------------------------------------------------


@dataclass
class Sweep:
    started: float = math.inf  # perf_counter of the first request
    started_wall: float = math.inf  # time.time() of the first request
    finished: float = 0.0  # perf_counter of the last answer
    quotes: int = 0
    failed: int = 0
    client_429: int = 0
    errors: list[str] = field(default_factory=list)

    def start(self) -> None:
        if self.started == math.inf:
            self.started, self.started_wall = time.perf_counter(), time.time()

    def answered(self) -> None:
        self.finished = max(self.finished, time.perf_counter())


def _is_429(response: httpx.Response) -> bool:
    body = response.content
    if response.status_code == 429:
        return True
    if len(body) > 4096:  # a quote answer, not an error envelope
        return False
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return isinstance(payload, dict) and payload.get("code") == 429


def _counting_hook(sweep: Sweep) -> Callable[[httpx.Response], Any]:
    async def hook(response: httpx.Response) -> None:
        await response.aread()
        if _is_429(response):
            sweep.client_429 += 1

    return hook


async def _until_phase(window: float, phase: float) -> None:
    """Sleep until `phase` of the way into a server window (the next such instant)."""
    now = time.time()
    target = math.floor(now / window) * window + phase * window
    if target < now + 0.05:
        target += window
    await anyio.sleep(target - now)


async def momoscan_sweep(
    url: str, symbols: Sequence[str], budget: CreditBudget, window: float, sweep: Sweep
) -> None:
    """The engine's quote step: `concurrency` requests in flight, each batch as large as the
    budget grants right now (up to 120)."""
    async with httpx.AsyncClient(
        base_url=url, timeout=30.0, event_hooks={"response": [_counting_hook(sweep)]}
    ) as http:
        client = TwelveDataClient(http, KEY, base_url=url, budget=budget, window=window)
        slots = anyio.Semaphore(CONCURRENCY)

        async def run(batch: list[str]) -> None:
            try:
                result = await client.quote_batch(batch)
            except SourceError as exc:
                sweep.failed += len(batch)
                sweep.errors.append(str(exc))
            else:
                sweep.quotes += len(result.quotes)
                sweep.failed += len(result.errors)
            finally:
                sweep.answered()
                slots.release()

        queue = list(symbols)
        async with anyio.create_task_group() as tg:
            while queue:
                await slots.acquire()
                granted = await budget.take(min(MAX_BATCH, len(queue)))
                batch, queue = queue[:granted], queue[granted:]
                sweep.start()
                tg.start_soon(run, batch)


async def naive_sweep(
    url: str, symbols: Sequence[str], limit: int, window: float, sweep: Sweep
) -> None:
    """A leaky bucket of `limit` per `window` before each batch of 120; on a 429, wait for the
    next window boundary and send the same batch again (all a naive client can do)."""
    limiter = AsyncLimiter(limit, window)
    async with httpx.AsyncClient(
        base_url=url,
        timeout=30.0,
        headers={"Authorization": f"apikey {KEY}", "Accept": "application/json"},
    ) as http:
        slots = anyio.Semaphore(CONCURRENCY)

        async def run(batch: list[str]) -> None:
            try:
                for _ in range(20):
                    response = await http.get("/quote", params={"symbol": ",".join(batch)})
                    if _is_429(response):
                        sweep.client_429 += 1
                        now = time.time()
                        await anyio.sleep(window - now % window + window / 120)
                        continue
                    quotes, errors = parse_quote_body(response.content, batch)
                    sweep.quotes += len(quotes)
                    sweep.failed += len(errors)
                    return
                sweep.failed += len(batch)
                sweep.errors.append("still refused after 20 tries")
            finally:
                sweep.answered()
                slots.release()

        async with anyio.create_task_group() as tg:
            for i in range(0, len(symbols), MAX_BATCH):
                batch = list(symbols[i : i + MAX_BATCH])
                await slots.acquire()
                await limiter.acquire(len(batch))
                sweep.start()
                tg.start_soon(run, batch)


# -- figures -------------------------------------------------------------------------------------


def figures(meter: WindowMeter, sweeps: Sequence[Sweep], swept: int) -> dict[str, Any]:
    """Per-window shares (full windows: the first and last excluded), 429s, time and rate."""
    used = sorted(meter.accepted)
    windows = list(range(used[0], used[-1] + 1)) if used else []
    shares = [meter.accepted.get(w, 0) / meter.limit for w in windows]
    full = shares[1:-1]
    started = min(s.started for s in sweeps)
    finished = max(s.finished for s in sweeps)
    elapsed = finished - started
    # A client that knew the server's window alignment: a window's credits at the start, then
    # a window's worth at each boundary.
    phase = min(s.started_wall for s in sweeps) % meter.window / meter.window
    ideal = max(0.0, (math.ceil(swept / meter.limit) - 1 - phase) * meter.window)
    return {
        "shares": [round(s, 3) for s in shares],
        "full_windows": len(full),
        "share_min": min(full) if full else math.nan,
        "share_median": statistics.median(full) if full else math.nan,
        "share_max": max(full) if full else math.nan,
        "share_max_any": max(shares) if shares else math.nan,
        "server_429": sum(meter.refused.values()),
        "client_429": sum(s.client_429 for s in sweeps),
        "time_s": elapsed,
        "ideal_s": ideal,
        "rate": swept / elapsed / (meter.limit / meter.window) if elapsed > 0 else math.nan,
        "quotes": sum(s.quotes for s in sweeps),
        "failed": sum(s.failed for s in sweeps),
        "errors": [e for s in sweeps for e in s.errors][:3],
    }


def bench_momoscan(
    limit: int = LIMIT, window: float = WINDOW, multiple: int = MULTIPLE, phase: float = PHASE
) -> dict[str, Any]:
    """momoscan's budget and client sweeping `multiple` x `limit` symbols."""
    with serve(limit, window, multiple * limit) as srv:
        sweep = Sweep()

        async def main() -> None:
            budget = CreditBudget(limit, window=window, margin=window / 60)
            await _until_phase(window, phase)
            await momoscan_sweep(srv.url, srv.symbols, budget, window, sweep)

        anyio.run(main)
        return figures(srv.meter, [sweep], len(srv.symbols))


def bench_naive(
    limit: int = LIMIT, window: float = WINDOW, multiple: int = MULTIPLE, phase: float = PHASE
) -> dict[str, Any]:
    """A naive `AsyncLimiter(limit, window)` client sweeping the same universe."""
    with serve(limit, window, multiple * limit) as srv:
        sweep = Sweep()

        async def main() -> None:
            await _until_phase(window, phase)
            await naive_sweep(srv.url, srv.symbols, limit, window, sweep)

        anyio.run(main)
        return figures(srv.meter, [sweep], len(srv.symbols))


def bench_restart(
    limit: int = LIMIT,
    window: float = WINDOW,
    multiple: int = MULTIPLE,
    phase: float = PHASE,
    *,
    seeded: bool = True,
) -> dict[str, Any]:
    """A run that spends 1.5 windows of credits and stops, then a new client and budget in the
    same window, seeded with the first run's ledger (or not, with `seeded=False`)."""
    with serve(limit, window, multiple * limit) as srv:
        first, second = Sweep(), Sweep()
        split = int(1.5 * limit)
        restart: dict[str, float] = {}

        async def main() -> None:
            margin = window / 60
            budget = CreditBudget(limit, window=window, margin=margin)
            await _until_phase(window, phase)
            await momoscan_sweep(srv.url, srv.symbols[:split], budget, window, first)
            spent = budget.entries() if seeded else []
            restart["phase"] = time.time() % window / window
            restart["ledger"] = sum(c for _, c in spent)
            fresh = CreditBudget(limit, window=window, margin=margin, spent=spent)
            await momoscan_sweep(srv.url, srv.symbols[split:], fresh, window, second)

        anyio.run(main)
        out = figures(srv.meter, [first, second], len(srv.symbols))
        out["restart_phase"] = restart["phase"]
        out["seeded_credits"] = restart["ledger"]
        return out


def bench_ratelimit(
    limit: int = LIMIT, window: float = WINDOW, multiple: int = MULTIPLE, phase: float = PHASE
) -> dict[str, dict[str, Any]]:
    """Every scenario, one after another, each on a server of its own."""
    before = threading.active_count()
    results = {
        "momoscan": bench_momoscan(limit, window, multiple, phase),
        "naive": bench_naive(limit, window, multiple, phase),
        "restart seeded": bench_restart(limit, window, multiple, phase),
        "restart unseeded": bench_restart(limit, window, multiple, phase, seeded=False),
    }
    leftover = threading.active_count() - before
    for figures_ in results.values():
        figures_["leftover_threads"] = leftover
    return results


def stand_in(limit: int = 55, port: int = 0) -> None:
    """Serve Twelve Data (and Cboe and OCC) with a real plan's window until Ctrl-C, so that the
    app itself can be pointed at it as a stand-in for the real API."""
    with serve(limit, 60.0, 0) as served:
        print(f"Twelve Data stand-in: {limit} credits a clock minute at {served.url}")
        print("Point momoscan at it with a config file holding:")
        for section in ("twelvedata", "cboe", "occ"):
            key = "base_url"
            print(f'  [{section}]\n  {key} = "{served.url}"')
        print("and any TWELVEDATA_API_KEY; add --force outside market hours. Ctrl-C stops.")
        seen = 0
        try:
            while True:
                time.sleep(5)
                meter = served.meter
                windows = sorted(meter.accepted)
                if len(windows) > seen:
                    seen = len(windows)
                    shares = " ".join(f"{meter.accepted[w] / limit:.2f}" for w in windows[-10:])
                    refused = sum(meter.refused.values())
                    print(f"credits per minute, share of {limit}: {shares}; 429s: {refused}")
        except KeyboardInterrupt:
            pass


def main(argv: Sequence[str] = ()) -> None:
    from rich.console import Console
    from rich.table import Table

    if argv and argv[0] == "--serve":
        stand_in(int(argv[1]) if len(argv) > 1 else 55)
        return
    multiple = int(argv[0]) if argv else MULTIPLE
    console = Console() if sys.stdout.isatty() else Console(width=100)
    logging.basicConfig(level=logging.WARNING, format="  %(name)s: %(message)s")
    console.print(
        f"[dim]{multiple * LIMIT} symbols, {LIMIT} credits per {WINDOW:g} s window, "
        f"sweeps start {PHASE:.0%} into a window...[/]"
    )
    results = bench_ratelimit(multiple=multiple)
    table = Table(title=f"Twelve Data credit limit: {LIMIT} per {WINDOW:g} s fixed window")
    for col in ("client", "share min/med/max", "429 srv/cli", "time/ideal s", "rate", "quotes"):
        table.add_column(col, justify="left" if col == "client" else "right")
    for name, r in results.items():
        table.add_row(
            name,
            f"{r['share_min']:.2f}/{r['share_median']:.2f}/{r['share_max']:.2f}",
            f"{r['server_429']}/{r['client_429']}",
            f"{r['time_s']:.1f}/{r['ideal_s']:.1f}",
            f"{r['rate']:.2f}",
            f"{r['quotes']}/{multiple * LIMIT}",
        )
    console.print(table)
    for name, r in results.items():
        shares = " ".join(f"{x:.2f}" for x in r["shares"])
        console.print(f"[dim]{name}, every window: {shares}[/]")
        if r["errors"]:
            console.print(f"[red]{name}: {r['errors']}[/]")
    console.print(
        "[dim]share: accepted credits / limit over full windows (first and last excluded). "
        "rate: symbols / time / (limit / window). ideal: a client knowing the window alignment."
        f" Leftover threads: {next(iter(results.values()))['leftover_threads']}.[/]"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
