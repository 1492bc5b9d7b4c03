"""`momoscan check`: probe each configured live source once, cheaply, and say how it answered.

Nothing in momoscan's own tests can reach the real services; every user with keys can. For each
source this reports whether it was reached, whether the key was accepted, the plan's limits, how
the answer parsed (fields momoscan reads that were missing, fields nobody documented, row shapes
or date formats the parser had to tolerate) and the age of the data by the source's own clock.
Cost: Twelve Data 2 credits (`/api_usage` and a one-symbol `/quote`), one Nasdaq Data Link page
of 5 rows, one Cboe chain, one OCC day file, one read of Nasdaq Trader's halts feed and one or
two of its Rule 201 files (today's, else the previous trading day's), and SEC EDGAR's ticker
map, one page of its current filings and one company's facts (with the declared User-Agent:
`[sec] user_agent`), and FINRA's newest short interest and short volume files; the last five
are keyless.

Exit status: 0 when every configured source answered well, 1 otherwise. `--json` prints the
same as one object, for bug reports. Keys never appear: they travel in headers, and the output
is redacted besides.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from rich.console import Console
from rich.text import Text

from . import __version__
from . import format as fmt
from . import market_hours as mh
from .clock import MarketClock, RealClock
from .config import Settings
from .models import Session
from .redact import Redactor
from .sanitize import clean
from .sources.cboe import CboeClient, chain_field_report, parse_chain
from .sources.errors import AuthError, PermissionDenied, ServiceError, SourceError
from .sources.finra import FinraClient, FinraNotPublished, short_volume_day
from .sources.http import get_with_retries
from .sources.nasdaqtrader import NasdaqTraderClient, SsrListMissing
from .sources.occ import OccClient, OccStatus, parse_day
from .sources.sec import UA_HINT, SecBlocked, SecClient, SecHttp, sec_user_agent
from .sources.sec_facts import SecFactsClient
from .sources.twelvedata import TwelveDataClient, quote_field_report
from .symbols import INDEX_ROOTS

#: Probed when the watchlist names no stock: liquid, and with a small option chain.
DEFAULT_QUOTE_SYMBOL = "AAPL"
DEFAULT_CHAIN_SYMBOL = "KO"


@dataclass
class Probe:
    """One source's answer to one cheap request, read the way the scanner reads it."""

    source: str
    configured: bool = True
    ok: bool = False
    reached: bool | None = None
    key_accepted: bool | None = None
    plan: dict[str, Any] = field(default_factory=dict)
    missing_fields: list[str] = field(default_factory=list)
    unknown_fields: list[str] = field(default_factory=list)
    tolerated: list[str] = field(default_factory=list)
    data_time: str | None = None  # ISO, UTC: the data's own time
    data_age_seconds: float | None = None
    detail: str = ""  # one sentence: what was asked and what came back


def _age(probe: Probe, at: float | None, now: float) -> None:
    if at is None:
        return
    probe.data_time = datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")
    probe.data_age_seconds = round(max(0.0, now - at), 1)


async def _guard(probe: Probe, work: Callable[[], Awaitable[None]]) -> Probe:
    """Run one probe; a failure becomes its sentence (never a traceback)."""
    try:
        await work()
    except AuthError as exc:
        probe.reached, probe.key_accepted, probe.ok = True, False, False
        probe.detail = str(exc)
    except ServiceError as exc:
        probe.reached = probe.reached or False
        probe.ok = False
        probe.detail = str(exc)
    except SourceError as exc:
        probe.reached, probe.ok = True, False
        probe.detail = str(exc)
    return probe


async def probe_twelvedata(
    http: httpx.AsyncClient, settings: Settings, api_key: str, now: float
) -> Probe:
    probe = Probe("Twelve Data")
    client = TwelveDataClient(
        http,
        api_key,
        secrets=settings.secrets,
        base_url=settings.twelvedata.base_url,
        retries=1,
        timeout=settings.twelvedata.timeout,
    )
    symbol = next((s for s in settings.scan.watchlist if s not in INDEX_ROOTS), None)
    symbol = symbol or DEFAULT_QUOTE_SYMBOL

    async def work() -> None:
        usage = await client.api_usage()
        probe.reached, probe.key_accepted = True, True
        probe.plan = {
            "credits_per_minute": usage.plan_limit,
            "credits_used_this_minute": usage.current_usage,
        }
        if usage.plan_daily_limit:
            probe.plan["credits_per_day"] = usage.plan_daily_limit
            probe.plan["credits_used_today"] = usage.daily_usage
        try:
            batch = await client.quote_batch([symbol])
        except PermissionDenied as exc:
            probe.detail = f"The key is good but the plan lacks /quote: {exc}"
            return
        probe.missing_fields, probe.unknown_fields = quote_field_report(client.last_body)
        if not batch.quotes:
            error = batch.errors[0].message if batch.errors else "no quote"
            probe.detail = f"/quote for {symbol} was refused: {error}."
            return
        quote = batch.quotes[0]
        _age(probe, quote.quote_ts, now)
        probe.ok = True
        probe.detail = (
            f"/quote for {symbol}: {quote.price:g} ({quote.change_pct or 0:+.2f}%), "
            f"market {'open' if quote.market_open else 'closed'} by Twelve Data's word."
        )

    return await _guard(probe, work)


async def probe_nasdaq(settings: Settings) -> Probe:
    probe = Probe("Nasdaq Data Link")
    from .sources.nasdaq import COLUMNS, TABLE_CODE, NasdaqUniverse

    async def work() -> None:
        columns, rows = await NasdaqUniverse(settings).probe()
        probe.reached, probe.key_accepted = True, True
        probe.missing_fields = [c for c in COLUMNS if c not in columns]
        probe.unknown_fields = [c for c in columns if c not in COLUMNS]
        probe.ok = bool(rows) and not probe.missing_fields
        sample = ", ".join(r.get("ticker", "?") for r in rows[:5])
        probe.detail = f"{TABLE_CODE}: a page of {len(rows)} rows ({sample or 'none'})."

    return await _guard(probe, work)


async def probe_cboe(http: httpx.AsyncClient, settings: Settings, now: float) -> Probe:
    probe = Probe("Cboe")
    client = CboeClient(http, base_url=settings.cboe.base_url, timeout=settings.cboe.timeout)
    symbol = next(iter(settings.scan.watchlist), DEFAULT_CHAIN_SYMBOL)

    async def work() -> None:
        url = client.chain_url(symbol)
        response = await get_with_retries(
            http, url, what=f"Cboe chain for {symbol}", timeout=settings.cboe.timeout, attempts=2
        )
        probe.reached = True
        if response.status_code != 200:
            probe.detail = f"{url} answered HTTP {response.status_code}."
            return
        chain = parse_chain(response.content, symbol)
        probe.missing_fields, probe.unknown_fields = chain_field_report(response.content)
        if chain.skipped:
            probe.tolerated.append(f"{chain.skipped} malformed option records skipped")
        _age(probe, chain.as_of.timestamp() if chain.as_of else None, now)
        probe.ok = len(chain) > 0
        probe.detail = (
            f"{symbol} chain: {len(chain)} contracts, {chain.call_volume + chain.put_volume} "
            "traded today."
        )

    return await _guard(probe, work)


async def probe_occ(
    http: httpx.AsyncClient, settings: Settings, clock: MarketClock, now: float
) -> Probe:
    probe = Probe("OCC")
    client = OccClient(http, base_url=settings.occ.base_url, timeout=settings.occ.timeout)
    # OCC publishes a day's file the next day (T+1): the newest to expect is the last trading
    # day before today's date; one further back if that one is not out yet.
    newest = mh.previous_trading_day(clock.now().astimezone(mh.ET).date())

    async def work() -> None:
        for day in (newest, mh.previous_trading_day(newest)):
            response = await get_with_retries(
                http,
                f"{settings.occ.base_url.rstrip('/')}/volume-query",
                params=client.params(day),
                what=f"OCC volume for {day}",
                timeout=settings.occ.timeout,
                attempts=2,
            )
            probe.reached = True
            if response.status_code != 200:
                probe.detail = f"OCC answered HTTP {response.status_code} for {day}."
                return
            answer = parse_day(response.content, day)
            if answer.status is OccStatus.PUBLISHED:
                probe.tolerated = list(answer.tolerated)
                if answer.skipped:
                    probe.tolerated.append(f"{answer.skipped} malformed rows skipped")
                close = mh.session_bounds(day)[2].timestamp()
                _age(probe, close, now)
                probe.ok = True
                probe.detail = f"The volume of {day}: {len(answer.volumes)} underlyings."
                return
            probe.detail = f"{day}: OCC said {answer.answer!r} ({answer.status.value})."
        probe.ok = False

    return await _guard(probe, work)


#: Seconds after which a halts feed made during the session is called stale.
HALTS_STALE_AFTER = 600.0


def _halts_client(http: httpx.AsyncClient, settings: Settings) -> NasdaqTraderClient:
    return NasdaqTraderClient(
        http, halts_url=settings.halts.halts_url, ssr_url=settings.halts.ssr_url
    )


async def probe_halts(
    http: httpx.AsyncClient, settings: Settings, clock: MarketClock, now: float
) -> Probe:
    """The halts feed, read once: its items, today's halts, when it was made and its age."""
    probe = Probe("Nasdaq halts")
    client = _halts_client(http, settings)
    today = clock.now().astimezone(mh.ET).date()

    async def work() -> None:
        feed = await client.halts()
        probe.reached = True
        _age(probe, feed.generated_at, now)
        if feed.skipped:
            probe.tolerated.append(f"{feed.skipped} malformed items skipped")
        todays = [h for h in feed.halts if h.halt_day == today]
        halted = [h for h in todays if h.halted(now)]
        probe.ok = feed.generated_at is not None
        probe.detail = (
            f"{len(feed.halts)} halts in the feed, {len(todays)} of them today "
            f"({len(halted)} halted now)."
        )
        if feed.generated_at is None:
            probe.detail += " The feed has no generation time (channel pubDate)."
        elif (
            now - feed.generated_at > HALTS_STALE_AFTER
            and mh.session_at(clock.now()) is Session.OPEN
        ):
            probe.ok = False
            probe.detail += (
                f" It is stale: made {fmt.age(now - feed.generated_at)} ago, in the session."
            )

    return await _guard(probe, work)


async def probe_ssr(http: httpx.AsyncClient, settings: Settings, clock: MarketClock) -> Probe:
    """The Rule 201 list: today's, or the previous trading day's when today's is not there."""
    probe = Probe("Nasdaq SSR list")
    client = _halts_client(http, settings)
    today = clock.now().astimezone(mh.ET).date()
    days = ([today] if mh.is_trading_day(today) else []) + [mh.previous_trading_day(today)]

    async def work() -> None:
        missing: list[str] = []
        for day in days:
            try:
                ssr = await client.ssr_list(day)
            except SsrListMissing:
                probe.reached = True
                missing.append(str(day))
                continue
            probe.reached = True
            if ssr.skipped:
                probe.tolerated.append(f"{ssr.skipped} malformed rows skipped")
            probe.ok = True
            state = "complete" if ssr.complete else "no creation stamp yet (incomplete)"
            probe.detail = f"The Rule 201 list of {day}: {len(ssr.restrictions)} rows, {state}."
            if missing:
                probe.detail += f" None for {', '.join(missing)}."
            return
        probe.detail = f"No Rule 201 list for {' or '.join(missing)}."

    return await _guard(probe, work)


async def probe_sec(
    http: httpx.AsyncClient, settings: Settings, *, demo: bool, now: float
) -> Probe:
    """SEC EDGAR: the ticker map and one page of the current-filings feed, with the declared
    User-Agent; says whether the SEC accepted it. Without one, not configured (nothing sent)."""
    agent, off = sec_user_agent(settings.sec.user_agent, demo=demo)
    if not agent:
        return Probe("SEC EDGAR", configured=False, detail=off)
    probe = Probe("SEC EDGAR")
    client = SecClient(
        SecHttp(http, user_agent=agent, attempts=1),
        tickers_url=settings.sec.tickers_url,
        current_url=settings.sec.current_url,
    )

    async def work() -> None:
        try:
            rows = await client.ticker_map()
        except SecBlocked as exc:
            probe.reached, probe.ok = True, False
            if exc.status == 403:
                probe.detail = (
                    f"SEC EDGAR: User-Agent refused (403): set {UA_HINT} (your name and a "
                    "contact address the SEC accepts)."
                )
            else:
                probe.detail = f"SEC EDGAR: {exc}"
            return
        probe.reached = True
        page = await client.current_filings(max_pages=1)
        companies = len({r[0] for r in rows})
        newest = max((f.accepted_at for f in page.filings), default=None)
        _age(probe, newest, now)
        if page.skipped:
            probe.tolerated.append(f"{page.skipped} malformed feed entries skipped")
        probe.ok = True
        demo_agent = demo and not settings.sec.user_agent
        whose = " (the simulated market's own: set [sec] user_agent for live)" if demo_agent else ""
        probe.detail = (
            f"SEC EDGAR: User-Agent accepted{whose}. Ticker map: {len(rows)} tickers of "
            f"{companies} companies; current filings: {len(page.filings)} on the first page."
        )

    return await _guard(probe, work)


#: The company facts probed live: Apple Inc.'s CIK (SEC's ticker map; public-feeds.md 3.5).
FACTS_CIK = 320193
FACTS_TICKER = "AAPL"


async def probe_sec_facts(
    http: httpx.AsyncClient, settings: Settings, *, demo: bool, now: float
) -> Probe:
    """SEC company facts of one known company (Apple; in the demo, the simulated map's AAPL):
    its shares outstanding and public float with their as-of dates."""
    agent, off = sec_user_agent(settings.sec.user_agent, demo=demo)
    if not agent:
        return Probe("SEC company facts", configured=False, detail=off)
    probe = Probe("SEC company facts")
    sec = SecHttp(http, user_agent=agent, attempts=1)
    facts = SecFactsClient(sec, facts_url=settings.sec.facts_url)

    async def work() -> None:
        cik = FACTS_CIK
        if demo:
            client = SecClient(sec, tickers_url=settings.sec.tickers_url)
            found = [r[0] for r in await client.ticker_map() if r[1] == FACTS_TICKER]
            cik = found[0] if found else cik
        got = await facts.company(cik)
        probe.reached = True
        if not got.found:
            probe.detail = f"No company facts for CIK {cik} (HTTP 404)."
            return
        probe.ok = True  # read and parsed; a figure the filer lacks is said, not a failure
        shares = (
            f"{got.shares_outstanding:,} shares outstanding as of {got.shares_as_of}"
            if got.shares_outstanding is not None
            else "no shares outstanding figure"
        )
        public = (
            f"public float ${got.public_float_usd:,.0f} as of {got.float_as_of}"
            if got.public_float_usd is not None
            else "no public float"
        )
        probe.detail = f"{got.name or f'CIK {cik}'}: {shares}; {public}."

    return await _guard(probe, work)


async def probe_finra(
    http: httpx.AsyncClient, settings: Settings, clock: MarketClock
) -> list[Probe]:
    """FINRA's newest short interest file (its settlement date) and the newest short volume
    file (the trade day's, else the days before)."""
    client = FinraClient(
        http,
        short_interest_url=settings.finra.short_interest_url,
        short_volume_url=settings.finra.short_volume_url,
        user_agent=settings.sec.user_agent,
        attempts=1,
    )
    now = clock.now()
    today = now.astimezone(mh.ET).date()
    interest = Probe("FINRA short interest")
    volume = Probe("FINRA short volume")

    async def short_interest() -> None:
        try:
            got = await client.short_interest(today)
        except FinraNotPublished as exc:
            interest.reached = True
            interest.detail = str(exc)
            return
        interest.reached = interest.ok = True
        if got.skipped:
            interest.tolerated.append(f"{got.skipped} malformed rows skipped")
        interest.detail = f"Settlement {got.settlement}: {len(got.rows)} symbols."
        _age(
            interest, datetime.combine(got.settlement, mh.CLOSE, mh.ET).timestamp(), now.timestamp()
        )

    async def short_volume() -> None:
        try:
            got = await client.short_volume(short_volume_day(now))
        except FinraNotPublished as exc:
            volume.reached = True
            volume.detail = str(exc)
            return
        volume.reached = volume.ok = True
        if got.skipped:
            volume.tolerated.append(f"{got.skipped} non-data lines skipped")
        volume.detail = f"Trade date {got.day}: {len(got.rows)} symbols."

    return [await _guard(interest, short_interest), await _guard(volume, short_volume)]


async def run_checks(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: MarketClock | None = None,
    api_key: str | None = None,
) -> list[Probe]:
    """Probe every source once. `transport` (the simulated market, in demo) and `clock` stand
    in for the network and the real time; `api_key` overrides the configured Twelve Data key."""
    clock = clock or RealClock()
    now = clock.now().timestamp()
    key = settings.twelvedata.api_key if api_key is None else api_key
    headers = {"User-Agent": f"momoscan/{__version__} (check)"}
    probes: list[Probe] = []
    async with httpx.AsyncClient(
        transport=transport, headers=headers, follow_redirects=True
    ) as http:
        if key:
            probes.append(await probe_twelvedata(http, settings, key, now))
        else:
            probes.append(
                Probe(
                    "Twelve Data",
                    configured=False,
                    detail="No key: set TWELVEDATA_API_KEY or [twelvedata] api_key.",
                )
            )
        if settings.nasdaq.api_key and transport is None:
            probes.append(await probe_nasdaq(settings))
        else:
            probes.append(
                Probe(
                    "Nasdaq Data Link",
                    configured=False,
                    detail="No key: the universe comes from "
                    + ("the simulated market." if transport else "a file or the built-in list."),
                )
            )
        if settings.options.enabled:
            probes.append(await probe_cboe(http, settings, now))
            probes.append(await probe_occ(http, settings, clock, now))
        probes.append(await probe_halts(http, settings, clock, now))
        probes.append(await probe_ssr(http, settings, clock))
        probes.append(await probe_sec(http, settings, demo=transport is not None, now=now))
        probes.append(await probe_sec_facts(http, settings, demo=transport is not None, now=now))
        probes.extend(await probe_finra(http, settings, clock))
    # Each source redacts what it raises; this catches the rest (a URL, a sample of rows), and
    # the key check itself was sent (`api_key`, the demo's) besides the configured ones.
    redact = Redactor([*settings.secrets, key])
    for probe in probes:
        probe.detail = redact(clean(probe.detail))
    return probes


def all_ok(probes: list[Probe]) -> bool:
    return all(p.ok for p in probes if p.configured)


def to_json(probes: list[Probe], *, simulated: bool) -> dict[str, Any]:
    return {
        "momoscan": __version__,
        "simulated": simulated,
        "checked_at": datetime.fromtimestamp(time.time(), UTC).isoformat(timespec="seconds"),
        "ok": all_ok(probes),
        "sources": [asdict(p) for p in probes],
    }


def print_checks(console: Console, probes: list[Probe], *, simulated: bool) -> None:
    """One block a source: its verdict, then what it said, in words."""
    if simulated:
        console.print(
            Text(
                "Checked against the simulated market (--demo): no real service was asked.",
                style="yellow",
            )
        )
    # The verdicts in one column, past the longest name ("FINRA short interest").
    width = max([17, *(len(p.source) + 2 for p in probes)])
    for probe in probes:
        head = Text(f"{probe.source:<{width}}", style="bold")
        if not probe.configured:
            head.append("not configured", style="dim")
        elif probe.ok:
            head.append("OK", style="bold green")
        else:
            head.append("PROBLEM", style="bold red")
        facts = []
        if probe.reached is not None:
            facts.append("reached" if probe.reached else "not reached")
        if probe.key_accepted is not None:
            facts.append("key accepted" if probe.key_accepted else "key REJECTED")
        facts += [f"{k.replace('_', ' ')} {v}" for k, v in probe.plan.items()]
        if probe.data_age_seconds is not None:
            facts.append(f"data from {probe.data_time} ({fmt.age(probe.data_age_seconds)} old)")
        if facts:
            head.append("  " + " · ".join(facts))
        console.print(head, highlight=False)
        lines = [probe.detail] if probe.detail else []
        if probe.missing_fields:
            lines.append(
                "fields momoscan reads that were missing: " + ", ".join(probe.missing_fields)
            )
        if probe.unknown_fields:
            lines.append("fields not in the documentation: " + ", ".join(probe.unknown_fields))
        if probe.tolerated:
            lines.append("tolerated: " + "; ".join(probe.tolerated))
        for line in lines:
            console.print(Text("                 " + line), highlight=False)
    verdict = all_ok(probes)
    console.print(
        Text(
            "All configured sources answered well."
            if verdict
            else "Something needs a look: paste this output (or --json) into a bug report.",
            style="green" if verdict else "yellow",
        )
    )
