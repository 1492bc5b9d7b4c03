"""The screens the app opens when a key asks: the drill-down, the history, the chart screen,
a symbol's card, the alerts and the watchlist, and TradingView in the browser; each read on
the reader thread, and when there is nothing to show, a sentence saying why.

`ScreenOpeners` is the app's layer for them (`MomoscanApp` builds on it): it holds no state
of its own beyond what the app declares here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import App

from .. import format as fmt
from .. import listings, queries
from .. import market_hours as mh
from ..config import Settings
from ..engine.store_thread import StoreThread
from ..filings import Filing
from ..fundamentals import FloatFigure, ShortInterest, ShortVolume
from ..halts import Halt, ShortSaleRestriction
from ..links import NoChart, chart_url
from ..models import AlertEvent, Ticker
from ..queries import ScanRow, fundamentals
from ..rowfacts import float_line, row_facts, short_line
from ..store import Store
from ..viewer import Viewer
from .messages import ChartRequested
from .screens.alerts import AlertsScreen
from .screens.chart import ChartScreen, chart_data, read_chart
from .screens.contracts import ContractsScreen
from .screens.dialogs import JumpScreen, SymbolScreen
from .screens.halts import HaltsScreen
from .screens.history import HistoryScreen
from .screens.main import MainScreen
from .screens.watchlist import WatchlistScreen, read_watchlist
from .widgets.contract_table import ContractData

if TYPE_CHECKING:
    from ..runtime import Runtime


def load_contracts(
    store: Store, day: date, underlying: str, unusual_ratio: float, unusual_min_volume: int
) -> ContractData:
    """Read and index an underlying's contracts (on the reader thread, off the event loop)."""
    rows = queries.contracts(
        store,
        day,
        underlying,
        unusual_ratio=unusual_ratio,
        unusual_min_volume=unusual_min_volume,
    )
    return ContractData(rows)


@dataclass(frozen=True, slots=True)
class CardFacts:
    """What the card reads of a symbol when it opens (it may not be in the tables): its float
    figures, latest short interest and short sale volume."""

    figure: FloatFigure | None = None
    interest: ShortInterest | None = None
    volume: ShortVolume | None = None


def read_card_facts(store: Store, symbol: str) -> CardFacts:
    """`symbol`'s float and short figures (on the reader's thread)."""
    return CardFacts(
        fundamentals.floats(store, [symbol]).get(symbol),
        fundamentals.short_interest(store, [symbol]).get(symbol),
        fundamentals.short_volume(store, [symbol]).get(symbol),
    )


def card_context(
    snap: queries.Snapshot | None,
    symbol: str,
    now: float,
    facts: CardFacts | None = None,
    row: ScanRow | None = None,
) -> list[tuple[str, Text]]:
    """The card's rows of `symbol`'s halt, Rule 201 restriction and high of the day, from the
    latest read, and of its float and short interest (`facts`, with `row`'s volume for the
    float rotation), at market-clock `now` (Unix seconds)."""
    rows: list[tuple[str, Text]] = []
    if facts is not None:
        volume = row.volume if row is not None else None
        figures = row_facts(
            symbol,
            volume,
            {symbol: facts.figure} if facts.figure else {},
            {symbol: facts.interest} if facts.interest else {},
        )
        line = float_line(facts.figure, figures)
        rows.append(("Float", Text(line) if line else Text("-", style="dim")))
        line = short_line(facts.interest, facts.volume, figures)
        rows.append(("Short", Text(line) if line else Text("-", style="dim")))
    if snap is None:
        return rows
    lead = snap.leads.get(symbol)
    if lead is not None and lead.at <= now:
        first, then = ("options", "price") if lead.options_led else ("price", "options")
        rows.append(
            (
                "Lead",
                Text(lead.text, style="bold blue").append(
                    f": {first} activity came first, {then} followed"
                ),
            )
        )
    badges = snap.symbol_badges(symbol)
    if badges:
        # Each badge is "NEW · 9/21 ≥5% by close": several are set apart by semicolons.
        rows.append(("Record", Text("; ".join(badges))))

    halt = snap.halts.get(symbol)
    if halt is not None:
        what = f"{halt.reason} {halt.reason_text}, halted {fmt.et_time(halt.halted_at)} ET"
        if halt.halted:
            text = Text("HALTED", style="bold white on red").append(f" {what}")
            if halt.resume_trade_at is not None:
                resumes = fmt.et_time(halt.resume_trade_at)
                text.append(f"; trading resumes {resumes} ET", style="yellow")
            else:
                text.append("; no resumption time yet", style="yellow")
        else:
            resumed = halt.resumed_at or now
            text = Text(f"RESUMED {fmt.age(now - resumed)} ago", style="bold green")
            text.append(f" ({what})")
        rows.append(("Halt", text))
    ssr = snap.restrictions.get(symbol)
    if ssr is not None:
        how = "Nasdaq Trader's list" if ssr.source == "list" else "a 10% fall seen in its quotes"
        at = f" {fmt.et_time(ssr.triggered_at)} ET" if ssr.triggered_at is not None else ""
        rows.append(
            (
                "SSR",
                Text("Rule 201 in force", style="bold yellow").append(
                    f": triggered {ssr.trigger_day}{at} ({how})"
                ),
            )
        )
    high = snap.highs.get(symbol)
    if high is not None:
        text = Text(f"{fmt.price(high.high)}")
        if high.count:
            text.append(f", {high.count} new highs today, the last at {fmt.et_time(high.at)} ET")
        rows.append(("High", text))
    return rows


class ScreenOpeners(App[int]):
    """What the screens ask the app to open (see the module's docstring)."""

    settings: Settings
    wall: Callable[[], float]
    runtime: Runtime | None
    viewer: Viewer | None
    reader: StoreThread | None
    snapshot: queries.Snapshot | None
    opened_urls: list[str]
    #: When the next refresh starts (wall clock), unless asked for sooner.
    _next_refresh_at: float

    @property
    def main(self) -> MainScreen:
        screen = self.default_screen
        assert isinstance(screen, MainScreen)
        return screen

    def market_epoch(self) -> float:
        """The market clock in Unix seconds (the simulated one in demo): quotes' ages come from
        their source's clock and are measured against it."""
        if self.runtime is not None:
            return self.runtime.clock.now().timestamp()
        if self.viewer is not None and self.viewer.state is not None:
            return self.viewer.clock.now().timestamp()
        return self.wall()

    def on_chart_requested(self, message: ChartRequested) -> None:
        self.open_chart_soon(message.symbol)

    async def _ticker_for(self, symbol: str) -> Ticker | None:
        """The universe's record, else the built-in listings (for options underlyings that
        are outside the universe: mega caps, ETFs, indexes)."""
        if self.reader is not None:
            found = await self.reader.call(queries.ticker, symbol)
            if found is not None:
                return found
        return listings.builtin(symbol)

    def open_chart_soon(self, symbol: str) -> None:
        self.run_worker(self.open_chart(symbol), group="chart", exit_on_error=False)

    async def open_chart(self, symbol: str) -> None:
        ticker = await self._ticker_for(symbol)
        try:
            if ticker is None:
                raise NoChart(f"{symbol} is not a known listing: no chart to open.")
            url = chart_url(ticker)
        except NoChart as exc:
            self.notify(str(exc), severity="warning", markup=False)
            return
        self.opened_urls.append(url)
        self.open_url(url)
        # Also shown, for users on SSH whose browser cannot open here.
        self.notify(url, title=f"Chart: {symbol}", markup=False, timeout=10)

    def _open_link(self, url: str, title: str) -> None:
        """Open `url` in the browser, and show it (for users on SSH)."""
        self.opened_urls.append(url)
        self.open_url(url)
        self.notify(url, title=title, markup=False, timeout=10)

    def _card_filings(self, symbol: str) -> list[Filing]:
        """`symbol`'s filings of the day accepted by the market clock's now, newest first."""
        snap = self.snapshot
        if snap is None:
            return []
        now = self.market_epoch()
        return [f for f in snap.filings.get(symbol, ()) if f.accepted_at <= now]

    def open_contracts_soon(self, underlying: str, *, day: date | None = None) -> None:
        self.run_worker(self.open_contracts(underlying, day), group="drill", exit_on_error=False)

    async def open_contracts(self, underlying: str, day: date | None = None) -> None:
        """Push the drill-down of `underlying` on `day` (today's chains when None), or say
        why there is nothing to show."""
        snap = self.snapshot
        day = day or (snap.options_day if snap is not None else None)
        if self.reader is None or day is None:
            self.notify("No option chains yet: the first refresh fetches them.", markup=False)
            return
        opts = self.settings.options
        data = await self.reader.call(
            load_contracts, day, underlying, opts.unusual_volume_oi, opts.unusual_min_volume
        )
        if not len(data):
            self.notify(await self._why_no_contracts(underlying, day), markup=False, timeout=8)
            return
        await self.push_screen(
            ContractsScreen(underlying, day, data, source_note="Cboe, 15 min delayed")
        )

    async def _why_no_contracts(self, underlying: str, day: date) -> str:
        assert self.reader is not None
        days = await self.reader.call(queries.contract_days)
        kept = self.settings.options.contract_days
        if day not in days:
            return (
                f"No contracts on record for {day}: momoscan keeps the contracts of the days "
                f"it ran, for {kept} days ([options] contract_days)."
            )
        return (
            f"No contracts of {underlying} on record for {day}: it was not in that day's "
            "watch set (your watchlist, the last leaders, the top movers), whose chains are "
            "the only ones fetched."
        )

    def open_history_soon(self) -> None:
        self.run_worker(self.open_history(), group="history", exit_on_error=False)

    async def open_history(self) -> None:
        if self.reader is None:
            return
        history = await self.reader.call(queries.leaders_history, 20)
        if not history:
            self.notify("No daily leaders yet: the first refresh fetches them.", markup=False)
            return
        await self.push_screen(
            HistoryScreen(history, include_etfs=self.settings.options.include_etfs)
        )

    # -- the chart, alerts and watchlist screens ---------------------------------------------

    def open_day_chart_soon(self, symbol: str) -> None:
        self.run_worker(self.open_day_chart(symbol), group="day", exit_on_error=False)

    async def open_day_chart(self, symbol: str) -> None:
        """Push the chart screen of `symbol`'s day, or say why there is nothing to draw."""
        if self.reader is None:
            self.notify("Nothing to chart yet: the first refresh is under way.", markup=False)
            return
        data, row = await read_chart(self.reader, symbol, self.market_epoch())
        ticker = await self._ticker_for(symbol)
        if not data.prices:
            self.notify(self._why_no_prices(symbol, ticker), markup=False, timeout=8)
            return
        await self.push_screen(ChartScreen(symbol, ticker, data, row))

    def _never_quoted(self, ticker: Ticker) -> str:
        """Why momoscan never quotes `ticker` ("" when it does)."""
        tiers = self.settings.universe.cap_tiers
        if not ticker.cap_tier:
            return "it is an index or a fund momoscan follows for its options only"
        if ticker.cap_tier not in tiers:
            return (
                f"it is a {ticker.cap_tier} cap, outside your cap tiers ({', '.join(tiers)}), "
                "so momoscan does not quote it"
            )
        return ""

    def _why_no_prices(self, symbol: str, ticker: Ticker | None) -> str:
        if ticker is None:
            return f"{symbol} is not a known listing: no prices to chart."
        never = self._never_quoted(ticker)
        if never:
            return f"No intraday prices for {symbol}: {never}; o opens its TradingView chart."
        return f"No intraday prices for {symbol} on record yet: the next sweep quotes it."

    def _why_no_quote(self, ticker: Ticker) -> str:
        """The card's Quote line for a name without one: why, and when it will have one."""
        never = self._never_quoted(ticker)
        if never:
            return f"none: {never}"
        if self.main.status.state.refreshing:
            return "none yet: the refresh under way quotes it (never-quoted names go first)"
        left = max(0.0, self._next_refresh_at - self.wall())
        return f"none yet: the next refresh, in {fmt.age(left)}, quotes it (never-quoted first)"

    def open_alerts_soon(self) -> None:
        self.run_worker(self.open_alerts(), group="alerts", exit_on_error=False)

    async def _alerts_today(
        self,
    ) -> tuple[date, list[AlertEvent], dict[tuple[str, str], str]]:
        """Today's alerts, and the track-record badges of today's signals."""
        now = self.market_epoch()
        day = mh.current_trading_day(datetime.fromtimestamp(now, mh.ET))
        stored: list[AlertEvent] = []
        badges: dict[tuple[str, str], str] = {}
        if self.reader is not None:
            stored = await self.reader.call(queries.alerts_on, day)
            record = self.settings.record
            badges = await self.reader.call(
                queries.signal_badges,
                day,
                move_pct=record.move_pct,
                min_sample=record.min_sample,
            )
        return day, stored, badges

    async def open_alerts(self) -> None:
        day, events, badges = await self._alerts_today()
        await self.push_screen(
            AlertsScreen(day, events, rules=len(self.settings.alerts.rules), badges=badges)
        )

    async def _reload_alerts(self) -> None:
        _, events, badges = await self._alerts_today()
        if isinstance(self.screen, AlertsScreen):
            self.screen.show(events, badges)

    def open_halts_soon(self) -> None:
        self.run_worker(self.open_halts(), group="halts", exit_on_error=False)

    async def _halts_today(
        self,
    ) -> tuple[date, list[Halt], dict[str, ShortSaleRestriction], float, float | None]:
        now = self.market_epoch()
        day = mh.current_trading_day(datetime.fromtimestamp(now, mh.ET))
        if self.reader is None:
            return day, [], {}, now, None
        halts = await self.reader.call(queries.halts_on, day)
        restrictions = await self.reader.call(queries.restrictions_on, day)
        polled = await self.reader.call(queries.halts_polled_at)
        return day, halts, restrictions, now, polled

    async def open_halts(self) -> None:
        day, halts, restrictions, now, polled = await self._halts_today()
        await self.push_screen(HaltsScreen(day, halts, restrictions, now, polled_at=polled))

    async def _reload_halts(self) -> None:
        _, halts, restrictions, now, polled = await self._halts_today()
        if isinstance(self.screen, HaltsScreen):
            self.screen.show(halts, restrictions, now, polled)

    def open_watchlist_soon(self) -> None:
        self.run_worker(self.open_watchlist(), group="watchlist", exit_on_error=False)

    async def open_watchlist(self) -> None:
        if self.reader is None:
            self.notify("The watchlist opens once the database is open.", markup=False)
            return
        now = self.market_epoch()
        rows, sparks = await self.reader.call(read_watchlist, now)
        await self.push_screen(WatchlistScreen(rows, sparks, now))

    def ask_watch(self, value: str) -> None:
        """Ask for a symbol to add to the watchlist (`value` offered, selected)."""

        def chosen(symbol: str | None) -> None:
            if symbol:
                self.watch_soon(symbol)

        self.push_screen(JumpScreen("Add to the watchlist", value), callback=chosen)

    def watch_soon(self, symbol: str) -> None:
        self.run_worker(self.edit_watchlist(symbol, add=True), group="watch", exit_on_error=False)

    def unwatch_soon(self, symbol: str) -> None:
        self.run_worker(self.edit_watchlist(symbol, add=False), group="watch", exit_on_error=False)

    async def edit_watchlist(self, text: str, *, add: bool) -> None:
        """Add `text` to the watchlist or remove it (kept in the database), and say so."""
        rt = self.runtime
        try:
            if rt is not None:
                edit = rt.engine.watch if add else rt.engine.unwatch
                symbol, changed = await edit(text)
            elif self.viewer is not None:
                symbol, changed = await self.viewer.watch(text, add=add)
            else:
                self.notify("The watchlist can be edited once the first refresh starts.")
                return
        except ValueError as exc:
            self.notify(str(exc), severity="warning", markup=False)
            return
        if add and not changed:
            message = f"{symbol} is on the watchlist already."
        elif add:
            ticker = await self._ticker_for(symbol)
            never = self._never_quoted(ticker) if ticker is not None else ""
            message = (
                f"Added {symbol} to the watchlist, but {never}; o opens its chart."
                if never
                else f"Added {symbol} to the watchlist: refreshed and streamed first from now on."
            )
        elif changed:
            message = f"Removed {symbol} from the watchlist (+ adds it back)."
        else:
            message = f"{symbol} is not on the watchlist."
        self.notify(message, title="Watchlist", markup=False, timeout=5)
        if isinstance(self.screen, WatchlistScreen):
            await self.screen.reload()

    def show_symbol_soon(self, symbol: str) -> None:
        self.run_worker(self.show_symbol(symbol), group="jump", exit_on_error=False)

    async def show_symbol(self, symbol: str) -> None:
        ticker = await self._ticker_for(symbol)
        if ticker is None or self.reader is None:
            self.notify(f"{symbol} is not in the universe.", severity="warning", markup=False)
            return
        row = await self.reader.call(queries.scan_row, symbol, self.market_epoch())
        options_volume = None
        if self.snapshot is not None:
            options_volume = next(
                (s.total for s in self.snapshot.shares if s.underlying == symbol), None
            )
        series = await self.reader.call(queries.intraday_series, symbol, self.market_epoch())
        facts = await self.reader.call(read_card_facts, symbol)
        rt = self.runtime
        scheduler = rt.engine.scheduler if rt is not None else None
        choice = await self.push_screen_wait(
            SymbolScreen(
                ticker,
                row,
                options_volume,
                self.market_epoch,
                chart=chart_data(series),
                why=(lambda: scheduler.why(symbol)) if scheduler is not None else None,
                no_quote=lambda: self._why_no_quote(ticker),
                context=lambda: card_context(
                    self.snapshot, symbol, self.market_epoch(), facts, row
                ),
                filings=lambda: self._card_filings(symbol),
                open_url=self._open_link,
            )
        )
        if choice == "chart":
            await self.open_chart(symbol)
        elif choice == "contracts":
            await self.open_contracts(symbol)
        elif choice == "day":
            await self.open_day_chart(symbol)
