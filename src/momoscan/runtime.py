"""Assembles a run: mode (demo or live), clock, HTTP clients, sources, store and engine.

The one place where clients, limiters and connections are built; everything else receives them.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import logging
import time as wallclock
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import httpx

from . import __version__
from . import market_hours as mh
from .clock import MarketClock, RealClock, SpeedClock
from .config import Settings
from .engine import Engine, StoreThread
from .logs import log_path, setup_logging
from .processes import shutdown_pool, spawn_importing

# What a run is, decided before anything is built (light, for viewers too).
from .run_options import (
    Mode,
    RunOptions,
    check_db_mode,
    choose_mode,
    db_path_for,
    demo_session,
)
from .sources.cboe import CboeClient
from .sources.finra import FinraClient
from .sources.key_ledger import KeyLedger
from .sources.nasdaqtrader import NasdaqTraderClient
from .sources.news import FinnhubNews
from .sources.occ import OccClient
from .sources.offload import Offloader
from .sources.ratelimit import CreditBudget
from .sources.sec import SecClient, SecHttp, sec_user_agent
from .sources.sec_facts import SecFactsClient
from .sources.twelvedata import TwelveDataClient
from .sources.twelvedata_ws import PriceStream
from .sources.universe import FileUniverse, UniverseSource
from .store import Store
from .universes import SimulatedUniverse, live_universe, option_product_symbols

if TYPE_CHECKING:
    from .simulated.faults import FaultPlan

log = logging.getLogger(__name__)


__all__ = [
    "Mode",
    "RunOptions",
    "Runtime",
    "check_db_mode",
    "choose_mode",
    "db_path_for",
    "demo_session",
    "log_path",
    "open_runtime",
    "setup_logging",
]

USER_AGENT = f"momoscan/{__version__} (+https://github.com/momoscan/momoscan)"
DEMO_KEY = "demo"
#: Seconds one request to Nasdaq Trader may take in all (a feed of 100 items is some 60 kB).
HALTS_TIMEOUT = 20.0
CBOE_HEADERS = {"Origin": "https://www.cboe.com", "Referer": "https://www.cboe.com/"}


def forget_other_clock(path: Path, clock: MarketClock) -> None:
    """A demo starts its clock afresh (10:00 by default); what an earlier run stored from
    later in the simulated session (or a later day) belongs to a clock that no longer
    exists, and would otherwise be shown beside this run's figures. Drop it."""
    now = clock.now()
    with Store(path) as store:
        dropped = store.forget_after(now.timestamp(), mh.current_trading_day(now))
    if dropped:
        log.info("demo restart at %s: dropped %d rows from a later simulated time", now, dropped)


@dataclass
class Runtime:
    engine: Engine
    mode: Mode
    db_path: Path
    clock: MarketClock
    settings: Settings
    market: object | None = None  # the SimMarket, when the demo runs in this process
    transport: httpx.AsyncBaseTransport | None = None  # the simulated market's, in demo
    faults: FaultPlan | None = None  # what the simulated market serves wrong, in fault mode

    async def seed_demo_history(self) -> int:
        """In the demo: add the simulated session so far to the intraday history (see
        `momoscan.simulated.history`), computed where the market runs and written through the
        store's writer. Returns the rows added (0 in live mode)."""
        session_rows = getattr(self.transport, "session_rows", None)
        if not self.mode.demo or session_rows is None:
            return 0
        from .simulated.history import store_history

        rows = await session_rows(self.settings.universe.cap_tiers)
        added: int = await self.engine.store.call(store_history, rows)
        log.info("demo: %d intraday samples of the session so far", added)
        try:
            await self.seed_demo_past()
        except Exception:
            # The past is extra: its failure costs the records' history, not the session's.
            log.exception("the demo's simulated past could not be written")
        return added

    async def seed_demo_past(self) -> int:
        """In the demo, into a database that has none yet: the simulated month before the
        first day (`momoscan.simulated.past`), made where the market runs and written through
        the store's writer. Returns the signals written (0 in live mode or when a past is
        there already)."""
        past_columns = getattr(self.transport, "past_columns", None)
        if not self.mode.demo or past_columns is None:
            return 0
        from .simulated.past import has_past, past_steps

        store = self.engine.store
        if await store.call(has_past):
            return 0
        universe = self.settings.universe
        past = await past_columns(universe.cap_tiers, universe.min_price)
        demo = self.settings.demo
        label = f"{demo.seed}:{demo.size}:{past.days[-1] if past.days else ''}"
        # A day a call: the store's thread takes the cycle's writes between them.
        now = self.clock.now().timestamp()
        written = 0
        for step in past_steps(past, label, now=now):
            written += await store.call(step)
        log.info("demo: a simulated past of %d signals (made in %.2f s)", written, past.seconds)
        return written


def demo_clock(settings: Settings, options: RunOptions) -> MarketClock:
    if options.demo_start is not None:
        from .clock import FixedClock

        return FixedClock(options.demo_start)
    demo = settings.demo
    speed = options.demo_speed if options.demo_speed is not None else demo.speed
    if options.demo_resume is not None:
        return SpeedClock(options.demo_resume.astimezone(mh.ET), speed)
    day = (
        date.fromisoformat(demo.date)
        if demo.date
        else mh.last_trading_day(datetime.now(mh.ET).date())
    )
    if not mh.is_trading_day(day):
        day = mh.last_trading_day(day)
    start = datetime.combine(day, time.fromisoformat(demo.start), tzinfo=mh.ET)
    return SpeedClock(start, speed)


def _import_for_run(demo: bool) -> None:
    """Import what a run needs beyond `momoscan.cli`, on a thread: the scheduler (numpy) and,
    in demo, the simulated market's transport. Imported on the event loop, they held it for
    tens of milliseconds as the first screen came up; on a thread, the loop keeps its turns."""
    importlib.import_module("momoscan.engine.scheduler")
    if demo:
        importlib.import_module("momoscan.simulated.transport")


_start_up_frozen = False


def _freeze_start_up() -> None:
    """Once a process, when its first runtime is built: every object alive then (modules,
    classes, the calendar's tables, the screens, the runtime itself, some 70,000 in the
    app) is moved out of the garbage collector's full passes (`gc.freeze`). They live as
    long as the process, and a full pass stops every thread: during a refresh of 8,000
    names each walked about 113,000 objects in 45-83 ms (the lag bench, on the 2-core
    machine), and 6-8 ms once they were frozen. Frozen objects are still freed by their
    reference counts; only a cycle among them would outlive its use."""
    global _start_up_frozen
    if not _start_up_frozen:
        _start_up_frozen = True
        gc.freeze()


@contextlib.asynccontextmanager
async def open_runtime(settings: Settings, options: RunOptions) -> AsyncIterator[Runtime]:
    """Build everything a run needs and close it all on the way out."""
    mode = choose_mode(settings, options)
    # The simulated market's process first: its imports (about 0.3 s) then run beside the
    # calendar's and the database's set-up below instead of after them.
    market_process = (
        spawn_importing("momoscan.simulated.transport")
        if mode.demo and not options.demo_in_process
        else None
    )
    transport: httpx.AsyncBaseTransport | None = None
    try:
        # The NYSE calendar loads its holiday tables on first use (about 0.1 s of imports):
        # off the event loop, before the demo's clock asks it for the latest trading day.
        this_year = datetime.now(mh.ET).year
        await anyio.to_thread.run_sync(mh.load_calendar, this_year, this_year - 1)
        await anyio.to_thread.run_sync(_import_for_run, mode.demo)
        db_path = db_path_for(settings, options, mode)
        # Off the event loop: a new file's schema (and the sqlite-utils import it takes), or a
        # demo restart's delete of a later clock's rows, would otherwise freeze the first screen.
        await anyio.to_thread.run_sync(check_db_mode, db_path, mode)
        market = None
        faults: FaultPlan | None = None
        if mode.demo:
            clock = demo_clock(settings, options)
            await anyio.to_thread.run_sync(forget_other_clock, db_path, clock)
            seed = options.demo_seed if options.demo_seed is not None else settings.demo.seed
            size = options.demo_size if options.demo_size is not None else settings.demo.size
            first_day = mh.last_trading_day(clock.now().astimezone(mh.ET).date())
            spec = options.demo_faults if options.demo_faults is not None else settings.demo.faults
            if spec:
                from .simulated.faults import FaultPlan as Plan

                plan = Plan.parse(spec, seed=seed)
                faults = plan if plan.active else None
            if options.demo_in_process:
                from .simulated.market import SimMarket
                from .simulated.transport import SimulatedMarketTransport

                market = SimMarket(
                    seed, size, clock, start_day=first_day, runners=settings.demo.runners
                )
                transport = SimulatedMarketTransport(
                    market,
                    plan_limit=settings.demo.plan_limit,
                    daily_limit=settings.demo.daily_limit or None,
                    latency=options.demo_latency,
                    faults=faults,
                    wall=options.credit_clock or wallclock.time,
                )
            else:
                from .simulated.transport import ProcessMarketTransport

                transport = ProcessMarketTransport(
                    seed=seed,
                    size=size,
                    clock=clock,
                    first_day=first_day,
                    plan_limit=settings.demo.plan_limit,
                    daily_limit=settings.demo.daily_limit or None,
                    latency=options.demo_latency,
                    faults=faults,
                    runners=settings.demo.runners,
                    pool=market_process,
                )
                market_process = None  # the transport's now
            universe: UniverseSource = SimulatedUniverse(transport, f"simulated (seed {seed})")
            if settings.universe.source == "file" and settings.universe.path:
                # Your own list on the simulated market: the symbols it knows get quotes.
                universe = FileUniverse(Path(settings.universe.path).expanduser())
            api_key = DEMO_KEY
        else:
            clock = RealClock()
            universe = live_universe(settings)
            api_key = settings.twelvedata.api_key

        headers = {"User-Agent": USER_AGENT}
        credit_clock = options.credit_clock or wallclock.time
        credit_sleep = options.credit_sleep or anyio.sleep
        budget = CreditBudget(
            settings.demo.plan_limit if mode.demo else max(1, settings.twelvedata.plan_limit or 8),
            # Paced on the monotonic clock, so a wall-clock jump neither stalls nor overspends;
            # the ledger's stamps in and out stay wall-clock seconds.
            clock=options.credit_clock or wallclock.monotonic,
            wall=credit_clock,
            sleep=credit_sleep,
            # Live, credits are the key's: every momoscan on this machine using it reserves
            # in one ledger (sources/key_ledger.py), whatever its database. A demo has none:
            # each demo's simulated market has its own plan.
            shared=None if mode.demo else KeyLedger.for_key(api_key),
        )
        store = StoreThread(db_path)
        await store.start()
        # The clock's year too (a demo date or a test clock in another year), off the loop.
        await anyio.to_thread.run_sync(mh.load_calendar, clock.now().year)
    except BaseException:
        # Nothing owns them yet (the HTTP clients below close the transport): stop them here.
        with anyio.CancelScope(shield=True):
            if market_process is not None:
                await shutdown_pool(market_process)
            if transport is not None:
                await transport.aclose()
        raise
    offload = Offloader(processes=options.offload_processes)
    try:
        async with (
            httpx.AsyncClient(
                transport=transport,
                headers=headers,
                timeout=httpx.Timeout(settings.twelvedata.timeout, connect=10.0),
            ) as td_http,
            httpx.AsyncClient(
                transport=transport,
                # Cboe's CDN serves these files to its own site's pages; say where from.
                headers={**headers, **CBOE_HEADERS},
                follow_redirects=True,
                timeout=httpx.Timeout(settings.cboe.timeout, connect=10.0),
            ) as cboe_http,
            httpx.AsyncClient(
                transport=transport,
                headers=headers,
                follow_redirects=True,
                timeout=httpx.Timeout(settings.occ.timeout, connect=10.0),
            ) as occ_http,
            # Nasdaq Trader's halts feed and Rule 201 files: keyless, no credits (the http://
            # form redirects to https, so redirects are followed).
            httpx.AsyncClient(
                transport=transport,
                headers=headers,
                follow_redirects=True,
                timeout=httpx.Timeout(HALTS_TIMEOUT, connect=10.0),
            ) as halts_http,
            # SEC EDGAR: keyless; SecHttp puts the declared User-Agent on every request.
            httpx.AsyncClient(
                transport=transport,
                follow_redirects=True,
                timeout=httpx.Timeout(HALTS_TIMEOUT, connect=10.0),
            ) as sec_http,
        ):
            stream = None
            if settings.stream.enabled and options.stream:
                stream_url = settings.stream.url
                if transport is not None and hasattr(transport, "stream_url"):
                    stream_url = await transport.stream_url(clock)
                stream = PriceStream(stream_url, api_key, lambda _event: None)
            # One SecHttp for every SEC request of the process (one fair-access pace).
            sec_agent, sec_off = sec_user_agent(settings.sec.user_agent, demo=mode.demo)
            sec = SecHttp(
                sec_http,
                user_agent=sec_agent,
                timeout=HALTS_TIMEOUT,
                # Paced on the credits' clock: a bench's fake one passes the SEC's pace in
                # no real time (bench/detect.py reads every name's facts each session).
                clock=options.credit_clock or wallclock.monotonic,
                sleep=credit_sleep,
            )
            engine = Engine(
                settings,
                store=store,
                quotes=TwelveDataClient(
                    td_http,
                    api_key,
                    secrets=settings.secrets,
                    base_url=settings.twelvedata.base_url,
                    budget=budget,
                    timeout=settings.twelvedata.timeout,
                    wall_clock=credit_clock,
                    sleep=credit_sleep,
                ),
                budget=budget,
                cboe=CboeClient(
                    cboe_http,
                    base_url=settings.cboe.base_url,
                    max_concurrency=settings.cboe.max_concurrency,
                    requests_per_minute=settings.cboe.requests_per_minute,
                    timeout=settings.cboe.timeout,
                    offload=offload,
                ),
                occ=OccClient(
                    occ_http,
                    base_url=settings.occ.base_url,
                    max_concurrency=settings.occ.max_concurrency,
                    requests_per_minute=settings.occ.requests_per_minute,
                    timeout=settings.occ.timeout,
                    offload=offload,
                ),
                universe=universe,
                clock=clock,
                mode=mode.name,
                option_products=option_product_symbols(),
                offload=offload,
                wall=options.wall,
                stream=stream,
                stream_max=settings.stream.max_symbols,
                halts=NasdaqTraderClient(
                    halts_http,
                    halts_url=settings.halts.halts_url,
                    ssr_url=settings.halts.ssr_url,
                    timeout=HALTS_TIMEOUT,
                ),
                filings=SecClient(
                    sec,
                    tickers_url=settings.sec.tickers_url,
                    current_url=settings.sec.current_url,
                )
                if sec_agent
                else None,
                filings_off=sec_off,
                # Company facts share the one SecHttp (its pace holds for both).
                facts=SecFactsClient(sec, facts_url=settings.sec.facts_url, offload=offload)
                if sec_agent
                else None,
                # FINRA's files: keyless, on the halts' client (FinraClient sends its own UA).
                finra=FinraClient(
                    halts_http,
                    short_interest_url=settings.finra.short_interest_url,
                    short_volume_url=settings.finra.short_volume_url,
                    user_agent=settings.sec.user_agent,
                    offload=offload,
                ),
                # The optional news provider: the user's key, never the demo's market.
                news=FinnhubNews(
                    halts_http,
                    api_key=settings.news.api_key,
                    base_url=settings.news.base_url,
                )
                if settings.news.provider == "finnhub" and settings.news.api_key and not mode.demo
                else None,
            )
            _freeze_start_up()
            yield Runtime(engine, mode, db_path, clock, settings, market, transport, faults)
    finally:
        with anyio.CancelScope(shield=True):
            await offload.aclose()
            await store.close()
