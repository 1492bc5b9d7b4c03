"""The key's credit ledger shared by processes: its file, and budgets that share it never
granting more than the plan together, on fake clocks and in two real processes against a
strict fixed-window server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import multiprocessing
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import anyio
import httpx
import pytest

from momoscan.config import Settings
from momoscan.runtime import RunOptions, open_runtime
from momoscan.simulated.transport import CreditMeter
from momoscan.sources.key_ledger import KeyLedger, key_id
from momoscan.sources.ratelimit import CreditBudget

KEY = "shared-key-0123456789abcdef"


class FakeTime:
    def __init__(self, start: float = 1_000.0):
        self.now = start

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await anyio.lowlevel.checkpoint()


def max_in_any_window(grants: list[tuple[float, int]], window: float) -> int:
    """The most credits granted within any half-open span of `window` seconds."""
    grants = sorted(grants)
    best = running = j = 0
    for t, c in grants:
        running += c
        while grants[j][0] <= t - window:
            running -= grants[j][1]
            j += 1
        best = max(best, running)
    return best


def budget_on(
    fake: FakeTime, shared: KeyLedger | None, limit: int = 10, window: float = 2.0
) -> CreditBudget:
    return CreditBudget(
        limit, window=window, margin=0.0, clock=fake.clock, sleep=fake.sleep, shared=shared
    )


# -- the file ----------------------------------------------------------------------------------


def test_one_file_per_key_in_the_state_directory_named_by_a_hash(isolated_env: Path) -> None:
    ledger = KeyLedger.for_key(KEY)
    assert ledger.reserve(5, 10, 60.0, now=1_000.0) == 5
    digest = hashlib.sha256(KEY.encode()).hexdigest()[:16]
    assert ledger.path == isolated_env / ".local" / "state" / "momoscan" / "credits" / digest
    assert key_id(KEY) == digest and KeyLedger.for_key("another key").path != ledger.path
    (line,) = ledger.path.read_text().splitlines()
    assert line.split() == ["1000.000", "5", str(os.getpid())]
    for path in ledger.path.parent.rglob("*"):
        assert KEY not in path.name and KEY not in path.read_text()


def test_reserve_grants_what_the_window_has_room_for(tmp_path: Path) -> None:
    ledger = KeyLedger(tmp_path / "k")
    assert ledger.reserve(6, 10, 60.0, now=100.0) == 6
    assert ledger.reserve(6, 10, 60.0, now=110.0) == 4  # partial: what is left
    assert ledger.reserve(1, 10, 60.0, now=159.0) == 0  # full until the first leaves
    assert ledger.wait(3, 10, 60.0, now=159.0) == pytest.approx(1.0)
    assert ledger.reserve(8, 10, 60.0, now=160.0, minimum=7) == 0  # 6 free, 7 asked
    assert ledger.reserve(5, 10, 60.0, now=160.0, minimum=5) == 5
    assert ledger.spent(160.0, 60.0) == [(110.0, 4), (160.0, 5)]
    assert ledger.used(160.0, 60.0) == 9


def test_entries_older_than_keep_are_pruned_on_each_write(tmp_path: Path) -> None:
    ledger = KeyLedger(tmp_path / "k", keep=120.0)
    ledger.reserve(3, 10, 60.0, now=100.0)
    ledger.reserve(3, 10, 60.0, now=200.0)
    assert len(ledger.path.read_text().splitlines()) == 2  # 100 s ago: kept
    ledger.reserve(3, 10, 60.0, now=221.0)
    assert [line.split()[0] for line in ledger.path.read_text().splitlines()] == [
        "200.000",
        "221.000",
    ]


def test_a_stamp_in_the_future_counts_as_now_and_is_rewritten_as_now(tmp_path: Path) -> None:
    path = tmp_path / "k"
    # Written before the wall clock went back an hour.
    path.write_text(f"{100.0 + 3600:.3f} 8 4242\n")
    ledger = KeyLedger(path)
    assert ledger.spent(100.0, 60.0) == [(100.0, 8)]
    assert ledger.reserve(5, 10, 60.0, now=100.0) == 2
    assert ledger.path.read_text().splitlines()[0].split()[:2] == ["100.000", "8"]
    # It leaves the window a window later, not an hour later.
    assert ledger.reserve(10, 10, 60.0, now=160.5) == 10


def test_a_corrupt_file_is_logged_and_its_bad_lines_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "k"
    path.write_bytes(b"100.0 4 1\n\x00\xffgarbage\n100.5\n101.0 nan 1\nnan 3 1\n101.0 -5 1\n")
    ledger = KeyLedger(path)
    with caplog.at_level(logging.WARNING, "momoscan.sources.key_ledger"):
        assert ledger.spent(110.0, 60.0) == [(100.0, 4)]
        assert ledger.reserve(10, 10, 60.0, now=110.0) == 6
        ledger.spent(110.0, 60.0)
    (warning,) = [r for r in caplog.records if "unreadable line" in r.getMessage()]
    assert "skipped 5 unreadable line(s)" in warning.getMessage()  # once, not per read
    # The next write leaves a clean file.
    assert [line.split()[1] for line in path.read_text().splitlines()] == ["4", "6"]


def test_an_unreadable_file_counts_as_empty_and_never_raises(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "k"
    path.mkdir()  # reading it fails (IsADirectoryError), and so does replacing it
    ledger = KeyLedger(path)
    with caplog.at_level(logging.WARNING, "momoscan.sources.key_ledger"):
        assert ledger.spent(100.0, 60.0) == []
        assert ledger.reserve(4, 10, 60.0, now=100.0) == 4
        ledger.record(3, 100.0, now=100.0)
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "cannot read" in messages and "cannot write" in messages
    assert KEY not in messages
    assert list(tmp_path.glob(".tmp-*")) == []  # no temporary file left behind


def test_merge_adds_only_grants_the_file_does_not_hold_each_matched_once(
    tmp_path: Path,
) -> None:
    ledger = KeyLedger(tmp_path / "k")
    for now in (100.0, 100.01, 100.02):
        ledger.reserve(1, 10, 60.0, now=now)
    # The same three grants as a database saved them (stamped a moment later), and a fourth.
    added = ledger.merge([(100.05, 1), (100.06, 1), (100.07, 1), (100.08, 1)], now=101.0)
    assert added == 1 and ledger.used(101.0, 60.0) == 4
    # A grant of other credits, or far from any entry, is a new one; record always adds.
    assert ledger.merge([(100.0, 2), (130.0, 1)], now=131.0) == 3
    ledger.record(1, 100.0, now=131.0)
    assert ledger.used(131.0, 60.0) == 8


# -- budgets sharing it ------------------------------------------------------------------------


async def sweep(budget: CreditBudget, fake: FakeTime, symbols: int, batch: int) -> list[Any]:
    grants: list[tuple[float, int]] = []
    left = symbols
    while left:
        got = await budget.take(min(batch, left))
        grants.append((fake.now, got))
        left -= got
        await fake.sleep(0.01)
    return grants


@pytest.mark.anyio
@pytest.mark.parametrize("shared", [True, False])
async def test_two_budgets_on_one_file_never_grant_more_than_the_limit_together(
    tmp_path: Path, shared: bool
) -> None:
    fake = FakeTime()
    path = tmp_path / "k"
    # Two "processes": each its own budget and its own ledger object on the same file.
    a = budget_on(fake, KeyLedger(path) if shared else None)
    b = budget_on(fake, KeyLedger(path) if shared else None)
    results: list[list[tuple[float, int]]] = []

    async def run(budget: CreditBudget, symbols: int, batch: int) -> None:
        results.append(await sweep(budget, fake, symbols, batch))

    async with anyio.create_task_group() as tg:
        tg.start_soon(run, a, 57, 4)
        tg.start_soon(run, b, 43, 7)
    together = results[0] + results[1]
    assert sum(c for _, c in together) == 100
    worst = max_in_any_window(together, 2.0)
    if shared:
        assert worst <= 10
        # And each sweep went on: not one process starved while the other spent.
        assert all(len(r) > 3 for r in results)
    else:
        assert worst > 10  # the control: each budget alone believes it owns the plan


@pytest.mark.anyio
async def test_a_budget_waits_for_the_other_processes_credits_to_leave_the_window(
    tmp_path: Path,
) -> None:
    fake = FakeTime()
    a = budget_on(fake, KeyLedger(tmp_path / "k"))
    b = budget_on(fake, KeyLedger(tmp_path / "k"))
    assert await a.take(10, minimum=10) == 10
    assert b.used() == 10 and b.available() == 0
    started = fake.now
    assert await b.take(4, minimum=4) == 4
    assert fake.now >= started + 2.0  # a's credits left the window first
    assert a.used() == 4  # a's left too; b's are seen by a


@pytest.mark.anyio
async def test_credits_learned_from_the_server_go_to_the_shared_ledger(tmp_path: Path) -> None:
    fake = FakeTime()
    a = budget_on(fake, KeyLedger(tmp_path / "k"))
    b = budget_on(fake, KeyLedger(tmp_path / "k"))
    await a.take(2, minimum=2)
    a.sync_left(5)  # the server says 5 left, a counted 8: 3 spent elsewhere
    assert b.used() == 5
    b.record(1)
    assert a.available() == 4
    assert await b.take(9) == 4


@pytest.mark.anyio
async def test_a_restart_restoring_its_database_does_not_count_its_grants_twice(
    tmp_path: Path,
) -> None:
    fake = FakeTime()
    first = budget_on(fake, KeyLedger(tmp_path / "k"))
    saved = []
    for want in (3, 2):
        got = await first.take(want, minimum=want)
        saved.append((fake.now + 0.002, got))  # the engine stamps after the grant
    # The restarted process restores what its database saved, as the quote step does.
    again = budget_on(fake, KeyLedger(tmp_path / "k"))
    for at, credits in saved:
        again.record(credits, at=at)
    assert again.used() == 5
    # A grant the shared ledger never saw (a run that did not share) is added.
    again.record(4, at=fake.now - 0.5)
    assert again.used() == 9 and first.used() == 9


# -- the runtime -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_live_runs_share_the_keys_ledger_and_the_demo_keeps_none(
    tmp_path: Path, isolated_env: Path
) -> None:
    settings = Settings()
    settings.twelvedata.api_key = KEY
    settings.twelvedata.plan_limit = 8
    settings.universe.source = "builtin"
    credits = isolated_env / ".local" / "state" / "momoscan" / "credits"
    async with open_runtime(settings, RunOptions(db=str(tmp_path / "a.db"))) as rt:
        assert rt.mode.name == "live"
        assert await rt.engine.budget.take(3, minimum=3) == 3
    assert [p.name for p in credits.iterdir() if not p.name.endswith(".lock")] == [key_id(KEY)]
    async with open_runtime(settings, RunOptions(db=str(tmp_path / "b.db"))) as rt:
        assert rt.engine.budget.used() == 3  # another database, the same key
    demo = Settings()
    options = RunOptions(demo=True, db=str(tmp_path / "d.db"), demo_in_process=True)
    async with open_runtime(demo, options) as rt:
        await rt.engine.budget.take(2, minimum=2)
    assert KeyLedger.for_key(KEY).used(time.time(), 61.0) == 3


# -- two real processes ------------------------------------------------------------------------

LIMIT, WINDOW, MARGIN = 10, 1.0, 0.3
EACH = 25  # credits each process spends


class _Meter(BaseHTTPRequestHandler):
    """/quote?symbol=A,B,...: a credit a symbol against `meter`, HTTP 429 past its limit."""

    server: _MeterServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        symbols = parse_qs(urlparse(self.path).query).get("symbol", [""])[0].split(",")
        accepted, _, left = self.server.meter.charge(len(symbols))
        body = json.dumps({"status": "ok" if accepted else "error"}).encode()
        self.send_response(200 if accepted else 429)
        self.send_header("content-length", str(len(body)))
        self.send_header("api-credits-left", str(left))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _MeterServer(ThreadingHTTPServer):
    daemon_threads = True
    meter: CreditMeter


@pytest.fixture
def strict_server() -> Iterator[_MeterServer]:
    """A fixed window of `WINDOW` wall-clock seconds (floor(time / WINDOW)), `LIMIT` credits."""
    server = _MeterServer(("127.0.0.1", 0), _Meter)
    server.meter = CreditMeter(LIMIT, window=WINDOW)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _collector(url: str, ledger: str | None, go: Any, out: Any) -> None:
    """A child process: its own budget (and ledger object, if any) spending `EACH` credits."""

    async def run() -> tuple[int, int, int]:
        shared = KeyLedger(Path(ledger)) if ledger else None
        budget = CreditBudget(LIMIT, window=WINDOW, margin=MARGIN, shared=shared)
        accepted = refused = requests = 0
        async with httpx.AsyncClient(timeout=10.0) as client:
            left = EACH
            while left:
                granted = await budget.take(min(4, left))
                symbols = ",".join(f"S{i}" for i in range(granted))
                response = await client.get(f"{url}/quote", params={"symbol": symbols})
                requests += 1
                if response.status_code == 429:
                    refused += 1
                else:
                    accepted += granted
                    left -= granted
        return accepted, refused, requests

    go.wait(30)  # both start spending together, once both have imported
    out.put(anyio.run(run))


def run_two(url: str, ledger: str | None) -> list[tuple[int, int, int]]:
    ctx = multiprocessing.get_context("spawn")
    go, out = ctx.Barrier(2), ctx.Queue()
    children = [ctx.Process(target=_collector, args=(url, ledger, go, out)) for _ in range(2)]
    for child in children:
        child.start()
    results = [out.get(timeout=120) for _ in children]
    for child in children:
        child.join(30)
        assert child.exitcode == 0
    return results


def test_two_processes_on_one_key_are_never_refused(
    tmp_path: Path, strict_server: _MeterServer
) -> None:
    host, port = strict_server.server_address[:2]
    results = run_two(f"http://{host!s}:{port}", str(tmp_path / "credits" / key_id(KEY)))
    assert strict_server.meter.rejected == 0
    assert [accepted for accepted, _, _ in results] == [EACH, EACH]
    # Both spent: the shared window was split, not taken by one.
    assert all(requests >= math.ceil(EACH / 4) for _, _, requests in results)


def test_two_processes_each_with_its_own_budget_are_refused_the_control(
    strict_server: _MeterServer,
) -> None:
    host, port = strict_server.server_address[:2]
    run_two(f"http://{host!s}:{port}", None)
    assert strict_server.meter.rejected > 0
