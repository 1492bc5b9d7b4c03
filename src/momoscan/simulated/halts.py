"""Trading halts and Rule 201 restrictions in the simulated market, and the two Nasdaq Trader
files that say them, in their wire formats (see `momoscan.sources.nasdaqtrader`).

Halts come from the day's price paths, on the simulated clock, and are built with the day
(`SimMarket.day_for`):
- LULD pauses: a name whose price moves more than its band within 5 minutes of the regular
  session is paused at the band's limit price for 5 minutes (reason LUDP for Nasdaq-listed
  names, M for the others; the quote resumes at the halt time and trading 5 minutes later for
  LUDP, both a few seconds after 5 minutes for M, as in the recorded feeds). Bands: 5 % for
  tier 1 (large and mega caps, ETFs), 10 % for the others from $3, 20 % from $0.75 to $3, the
  lesser of $0.15 and 75 % below. The real band is measured against a reference price, the
  mean price of the preceding 5 minutes, and doubles near the open and close; the simulation
  approximates it with the low and high of the preceding 5 minutes (or of the minutes since
  the open or the last resumption), all day.
- News halts: some of the day's planted news jumps in the session are halted (T1, news
  pending) a few minutes before the jump and updated in place to T3 (news and resumption
  times) when the news comes out, with quote and trade resumption times after it.
  The day's first news story is timed to come in the demo's first minutes (10:01 halt, 10:08
  resumption; see `SimMarket.movers_for`).
While a name is halted its price and volume stand still (the path is held flat at the pause
price over the halt); at the resumption the path takes up where it would have been, as a
reopening print does. The LULD reference starts afresh at each resumption.

Rule 201: the list for day D holds the names whose price fell 10 % or more below the previous
close in the regular session of D-1 or (so far) of D, each with its first trigger time.

Every item of the feed is served as Nasdaq Trader writes it: the `ndaq:` namespace URI,
self-closed empty fields, `ttl` 1, `numItems`, the CDATA description table with space-padded
dates and times, item pubDate at midnight ET in GMT, newest first, and old unresolved halts
at the end (invented symbols that are not in the universe).
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

import numpy as np

from .. import market_hours as mh

if TYPE_CHECKING:
    from .market import AnyDay, Mover, SimMarket
    from .universe import SimSecurity

LULD_MINUTES = 5
#: The demo's first minutes: the day's first news story is halted here (minutes from 04:00).
OPENER_HALT_MINUTE = 361  # 10:01 ET
OPENER_NEWS_MINUTE = 362  # 10:02 ET: the story's move and the T3 update

_MARKETS = {"NASDAQ": "NASDAQ", "NYSE": "NYSE", "NYSEARCA": "NYSE Arca", "NYSEMKT": "AMEX"}


@dataclass(frozen=True, slots=True)
class SimHalt:
    """One simulated halt. Times are aware datetimes (ET).

    `reason` is the code once final (LUDP, M, or T3 for a news halt); a news halt reads T1,
    without resumption times, until `news_at`. `price` is the price held over the halt."""

    symbol: str
    name: str
    market: str
    reason: str
    halted_at: datetime
    resume_quote_at: datetime
    resume_trade_at: datetime
    price: float
    news_at: datetime | None = None

    def as_of(self, now: datetime) -> tuple[str, datetime | None, datetime | None]:
        """(reason, quote resumption, trade resumption) as the feed shows them at `now`."""
        if self.news_at is not None and now < self.news_at:
            return "T1", None, None
        return self.reason, self.resume_quote_at, self.resume_trade_at


def listing_market(sec: SimSecurity) -> str:
    """The feed's Market for a security's exchange."""
    return _MARKETS.get(sec.exchange, sec.exchange or "NYSE")


def band(sec: SimSecurity, price: float) -> float:
    """The LULD band as a fraction of the reference `price` (dollars)."""
    if sec.cap_tier in ("large", "mega") or sec.kind == "etf":
        return 0.05
    if price >= 3.0:
        return 0.10
    if price >= 0.75:
        return 0.20
    return min(0.75, 0.15 / max(price, 0.01))


def bands(sec: SimSecurity, prices: np.ndarray) -> np.ndarray:
    """`band` for each reference price of `prices` (float64)."""
    if sec.cap_tier in ("large", "mega") or sec.kind == "etf":
        return np.full(prices.shape, 0.05)
    low = np.minimum(0.75, 0.15 / np.maximum(prices, 0.01))
    return np.where(prices >= 3.0, 0.10, np.where(prices >= 0.75, 0.20, low))


def _next_breach(p: np.ndarray, sec: SimSecurity, start: int, stop: int) -> int:
    """The first minute from `start` (before `stop`) whose price is past the band of the full
    5 minutes before it, or `stop`: `_halt_row`'s test, for many minutes at once."""
    if start >= stop:
        return stop
    prices = p[start - LULD_MINUTES : stop].astype(np.float64)
    views = np.lib.stride_tricks.sliding_window_view(prices, LULD_MINUTES + 1)
    low = views[:, :-1].min(axis=1)
    high = views[:, :-1].max(axis=1)
    now = views[:, -1]
    hit = (now > low * (1 + bands(sec, low))) | (now < high * (1 - bands(sec, high)))
    return start + int(hit.argmax()) if hit.any() else stop


def _seconds(*key: int | str) -> int:
    """A second of the minute, fixed by `key` (a halt does not fall on the minute)."""
    return random.Random("|".join(map(str, key))).randrange(60)


def _tick(price: float) -> float:
    return round(price, 2) if price >= 1.0 else round(price, 4)


# -- planning and applying the halts -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewsHalt:
    """A planned news halt of one security: minutes from 04:00 (seconds apart)."""

    index: int
    halt_minute: int
    news_minute: int
    quote_minute: int
    trade_minute: int
    second: int


def plan_news_halts(
    seed: int, day: date, movers: Sequence[Mover], open_minute: int, close_minute: int
) -> dict[int, NewsHalt]:
    """Which news stories are halted, and when: about half the news jumps of the session
    (from 09:40 to an hour before the close) and always the day's first news story when it
    was timed for the demo's opening minutes. By security index."""
    rng = random.Random(f"{seed}|{day.toordinal()}|news-halts")
    plans: dict[int, NewsHalt] = {}
    for mv in movers:
        if mv.kind != "news":
            continue
        draw = rng.random()
        lead, quote_after, second = rng.randint(2, 5), rng.randint(2, 4), rng.randrange(60)
        if mv.start == OPENER_NEWS_MINUTE:
            plans[mv.index] = NewsHalt(
                mv.index, OPENER_HALT_MINUTE, OPENER_NEWS_MINUTE, 363, 368, second
            )
            continue
        if not open_minute + 10 <= mv.start <= close_minute - 60 or draw >= 0.5:
            continue
        halt = mv.start - lead
        quote = mv.start + quote_after
        plans[mv.index] = NewsHalt(mv.index, halt, mv.start, quote, quote + 5, second)
    return plans


def apply_halts(
    price: np.ndarray,
    cum_volume: np.ndarray,
    r0: int,
    securities: Sequence[SimSecurity],
    base: datetime,
    open_minute: int,
    close_minute: int,
    news: dict[int, NewsHalt],
    seed: int,
) -> list[SimHalt]:
    """Find and apply a block's halts in place: `price` and `cum_volume` are float32 [rows x
    minutes] of securities `r0`.. (see `SimDay`). Returns the halts, in no order.

    Rows with neither a planned news halt nor a 5-minute move beyond the loosest band (5 %)
    are left alone after one vectorised look, so a day's build stays about as quick."""
    rows = price.shape[0]
    segment = price[:, open_minute:close_minute].astype(np.float64)
    span = segment.shape[1] - LULD_MINUTES
    if span <= 0:
        return []
    # The low and high of the 5 minutes before each minute, from shifted slices (a reduction
    # over a sliding window's short axis is several times slower).
    low = segment[:, :span].copy()
    high = low.copy()
    for k in range(1, LULD_MINUTES):
        np.minimum(low, segment[:, k : k + span], out=low)
        np.maximum(high, segment[:, k : k + span], out=high)
    now = segment[:, LULD_MINUTES:]
    # A row's narrowest band is the one at its highest price: a row that never moves that much
    # in 5 minutes has no pause.
    top = segment.max(axis=1)
    narrowest = np.array([band(securities[r0 + row], float(top[row])) for row in range(rows)])
    moved = ((now > low * (1 + narrowest[:, None])) | (now < high * (1 - narrowest[:, None]))).any(
        axis=1
    )
    out: list[SimHalt] = []
    for row in range(rows):
        index = r0 + row
        sec = securities[index]
        planned = news.get(index)
        if sec.kind == "index" or (not moved[row] and planned is None):
            continue
        out.extend(
            _halt_row(
                price[row], cum_volume[row], sec, base, open_minute, close_minute, planned, seed
            )
        )
    return out


def _freeze(p: np.ndarray, c: np.ndarray, start: int, end: int, held: float) -> None:
    """Hold the price at `held` over minutes [start, end) and the volume at minute `start`'s."""
    p[start:end] = held
    c[start + 1 : end] = c[start]


def _halt_row(
    p: np.ndarray,
    c: np.ndarray,
    sec: SimSecurity,
    base: datetime,
    open_minute: int,
    close_minute: int,
    planned: NewsHalt | None,
    seed: int,
) -> list[SimHalt]:
    """One security's halts over the session, applied to its paths in place."""
    market = listing_market(sec)
    nasdaq = market == "NASDAQ"
    halts: list[SimHalt] = []
    news_window = (-1, -1)
    if planned is not None:
        s = planned.second
        halted_at = base + timedelta(minutes=planned.halt_minute, seconds=s)
        quote = base + timedelta(minutes=planned.quote_minute, seconds=s)
        trade = base + timedelta(minutes=planned.trade_minute, seconds=s)
        rejoin = min(planned.trade_minute + 1, close_minute)
        held = float(p[planned.halt_minute])
        _freeze(p, c, planned.halt_minute, rejoin, held)
        news_window = (planned.halt_minute, rejoin)
        halts.append(
            SimHalt(
                sec.symbol,
                sec.name,
                market,
                "T3",
                halted_at,
                quote,
                trade,
                held,
                news_at=base + timedelta(minutes=planned.news_minute, seconds=s),
            )
        )
    since = open_minute  # where the reference window may start: the open or a resumption
    t = open_minute + 1
    while t < close_minute:
        if news_window[0] - LULD_MINUTES - 2 <= t < news_window[1]:
            # No pause runs into a news halt; the reference starts afresh after it.
            if t >= news_window[0]:
                since, t = news_window[1], news_window[1] + 1
            else:
                t += 1
            continue
        if t - LULD_MINUTES >= since:
            # Full windows from here: find the next breach at once, up to the news guard.
            guard = news_window[0] - LULD_MINUTES - 2
            stop = guard if t < guard else close_minute
            t = _next_breach(p, sec, t, stop)
            if t >= stop:
                continue
        reference = p[max(since, t - LULD_MINUTES) : t]
        if reference.size == 0:
            t += 1
            continue
        low, high = float(reference.min()), float(reference.max())
        up = float(p[t]) > low * (1 + band(sec, low))
        down = float(p[t]) < high * (1 - band(sec, high))
        if not up and not down:
            t += 1
            continue
        limit = _tick(low * (1 + band(sec, low)) if up else high * (1 - band(sec, high)))
        second = _seconds(seed, sec.symbol, base.date().toordinal(), t)
        halted_at = base + timedelta(minutes=t, seconds=second)
        extra = 0 if nasdaq else 3 + second % 8
        trade = halted_at + timedelta(minutes=LULD_MINUTES, seconds=extra)
        close_at = base + timedelta(minutes=close_minute)
        trade = min(trade, close_at)  # a pause near the close ends with the closing cross
        quote = halted_at if nasdaq else trade
        rejoin = min(close_minute, math.ceil((trade - base).total_seconds() / 60))
        _freeze(p, c, t, rejoin, limit)
        halts.append(
            SimHalt(
                sec.symbol,
                sec.name,
                market,
                "LUDP" if nasdaq else "M",
                halted_at,
                quote,
                trade,
                limit,
            )
        )
        since, t = rejoin, rejoin + 1
    return halts


# -- Rule 201 ----------------------------------------------------------------------------------


def fall_minutes(
    price: np.ndarray, prev_close: np.ndarray, open_minute: int, close_minute: int
) -> np.ndarray:
    """The first regular-session minute each row traded 10 % or more below `prev_close`, or
    -1: int32 [rows]. `price` is float32 [rows x minutes]."""
    below = price[:, open_minute:close_minute] <= (0.9 * prev_close)[:, None]
    hit = below.any(axis=1)
    return np.where(hit, below.argmax(axis=1) + open_minute, -1).astype(np.int32)


def ssr_rows(
    market: SimMarket, before: AnyDay | None, day: AnyDay, cutoff: datetime | None
) -> list[tuple[str, str, datetime]]:
    """A Rule 201 list: (symbol, name, trigger time ET) for the triggers of the trading day
    `before` (when known) and of `day` up to `cutoff` (all of it with None), in trigger order."""
    rows: list[tuple[str, str, datetime]] = []
    for sim_day, until in ((before, None), (day, cutoff)):
        if sim_day is None:
            continue
        minutes = sim_day.fall_minutes()
        for index in np.flatnonzero(minutes >= 0).tolist():
            sec = market.securities[index]
            if sec.kind == "index":
                continue
            minute = int(minutes[index])
            second = 0 if minute == sim_day.open_index else _seconds(sec.symbol, minute)
            at = sim_day.at_minute(minute) + timedelta(seconds=second)
            if until is None or at <= until:
                rows.append((sec.symbol, sec.name, at))
    rows.sort(key=lambda r: r[2])
    return rows


def _trigger_text(at: datetime) -> str:
    hour = at.hour % 12 or 12
    half = "AM" if at.hour < 12 else "PM"
    return f"{at.month}/{at.day}/{at.year} {hour}:{at.minute:02d}:{at.second:02d} {half}"


def ssr_file(rows: Sequence[tuple[str, str, datetime]], created: datetime) -> bytes:
    """The file in Nasdaq Trader's shape: the header, one CSV row a trigger (names quoted when
    they hold a comma), and the 14-digit creation stamp (ET) that marks it complete."""
    lines = ["Symbol,Security Name,Market Category,Trigger Time"]
    for symbol, name, at in rows:
        quoted = f'"{name}"' if "," in name or '"' in name else name
        category = "Q" if len(symbol) >= 4 else "R"  # an observed value; its meaning unknown
        lines.append(f"{symbol},{quoted},{category},{_trigger_text(at)}")
    lines.append(created.astimezone(mh.ET).strftime("%Y%m%d%H%M%S"))
    return ("\n".join(lines) + "\n").encode()


# -- the halts feed ----------------------------------------------------------------------------

#: Fields of an item in the feed's order (after title and pubDate).
FIELDS = (
    "HaltDate",
    "HaltTime",
    "IssueSymbol",
    "IssueName",
    "Market",
    "ReasonCode",
    "PauseThresholdPrice",
    "ResumptionDate",
    "ResumptionQuoteTime",
    "ResumptionTradeTime",
)
_HEADINGS = (
    "Halt Date",
    "Halt Time",
    "Issue Symbol",
    "Issue Name",
    "Market",
    "Reason Code",
    "Pause Threshold Price",
    "Resumption Date",
    "Resumption Quote Time",
    "Resumption Trade Time",
)
_PADDED = {0, 1, 7, 8, 9}  # the date and time cells, right-padded with spaces


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One item's fields as text (the order of `FIELDS`), "" when empty, and its day."""

    fields: tuple[str, ...]
    day: date

    def redated(self, day: date) -> FeedItem:
        """The item with its halt and resumption dates on `day` (the `halts_prev_day` fault)."""
        text = f"{day:%m/%d/%Y}"
        fields = list(self.fields)
        fields[0] = text
        if fields[7]:
            fields[7] = text
        return FeedItem(tuple(fields), day)

    def with_field(self, name: str, value: str) -> FeedItem:
        fields = list(self.fields)
        fields[FIELDS.index(name)] = value
        return replace(self, fields=tuple(fields))


#: Unresolved halts years old, kept at the end of the feed as the real one keeps its own
#: (invented symbols, none in the simulated universe).
OLD_HALTS: tuple[FeedItem, ...] = (
    FeedItem(
        ("03/07/2022", "08:00:00", "QOVRX", "Qovrex Mining Corp ADR", "NYSE", "H10",
         "", "", "", ""),
        date(2022, 3, 7),
    ),
    FeedItem(
        ("04/15/2019", "11:58:21", "SNVQ", "Sinovaq Biotech Ltd Ord Shrs", "NASDAQ", "T12",
         "", "", "", ""),
        date(2019, 4, 15),
    ),
)  # fmt: skip


def _clock(at: datetime | None, *, millis: bool = False) -> str:
    if at is None:
        return ""
    at = at.astimezone(mh.ET)
    text = at.strftime("%H:%M:%S")
    return f"{text}.{at.microsecond // 1000:03d}" if millis else text


def feed_item(halt: SimHalt, now: datetime) -> FeedItem:
    """`halt` as the feed shows it at `now`: HaltTime with milliseconds, as recent feeds
    write it; T1 without resumption until the news is out."""
    reason, quote, trade = halt.as_of(now)
    halted = halt.halted_at.astimezone(mh.ET)
    resumed_at = trade or quote
    resumed = f"{resumed_at.astimezone(mh.ET):%m/%d/%Y}" if resumed_at is not None else ""
    millis = halted.replace(microsecond=(_seconds(halt.symbol, halted.minute) * 16 + 7) * 1000)
    return FeedItem(
        (
            f"{halted:%m/%d/%Y}",
            _clock(millis, millis=True),
            halt.symbol,
            halt.name,
            halt.market,
            reason,
            "",
            resumed,
            _clock(quote),
            _clock(trade),
        ),
        halted.date(),
    )


def items_at(market: SimMarket, now: datetime, day: date | None = None) -> list[FeedItem]:
    """The feed's items at `now`: today's halts so far, newest first, then the old unresolved
    ones; with `day` (`haltdate=`), that day's halts only (as of `now` when it is today)."""
    today = now.astimezone(mh.ET).date()
    wanted = day or today
    if not mh.is_trading_day(wanted) or wanted > today:
        return [] if day is not None else list(OLD_HALTS)
    halts = market.halts_of(wanted)
    shown = [h for h in halts if h.halted_at <= now]
    shown.sort(key=lambda h: h.halted_at, reverse=True)
    items = [feed_item(h, now) for h in shown]
    return items if day is not None else [*items, *OLD_HALTS]


def _gmt(at: datetime) -> str:
    return format_datetime(at.astimezone(UTC), usegmt=True)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=mh.ET)


def _description(fields: Sequence[str]) -> str:
    heads = "".join(f'<th align="left">{h}</th>' for h in _HEADINGS)
    cells = "".join(
        f'<td valign="top">{value.ljust(30) if k in _PADDED and value else value}</td>'
        for k, value in enumerate(fields)
    )
    return (
        f'<![CDATA[<table width="100%" cellpadding="5"><tr>{heads}</tr><tr>{cells}</tr></table>]]>'
    )


def render_feed(items: Sequence[FeedItem], generated: datetime) -> bytes:
    """The RSS document Nasdaq Trader serves, generated at `generated`."""
    out = [
        '<?xml version="1.0" encoding="utf-8"?>\n',
        '<rss version="2.0" xmlns:ndaq="http://www.nasdaqtrader.com/">\n  <channel>\n',
        "    <title>NASDAQTrader.com</title>\n",
        "    <link>http://www.nasdaqtrader.com</link>\n",
        "    <description>NASDAQ Trade Halts</description>\n",
        f"    <copyright>Copyright {generated.year}. All rights reserved.</copyright>\n",
        f"    <pubDate>{_gmt(generated)}</pubDate>\n",
        "    <ttl>1</ttl>\n",
        f"    <ndaq:numItems>{len(items)}</ndaq:numItems>\n",
    ]
    for item in items:
        out.append("    <item>\n")
        out.append(f"      <title>{escape(item.fields[2])}</title>\n")
        out.append(f"      <pubDate>{_gmt(_midnight(item.day))}</pubDate>\n")
        for name, value in zip(FIELDS, item.fields, strict=True):
            text = escape(value)
            out.append(
                f"      <ndaq:{name}>{text}</ndaq:{name}>\n" if text else f"      <ndaq:{name} />\n"
            )
        out.append(f"      <description>{_description(item.fields)}</description>\n")
        out.append("    </item>\n")
    out.append("  </channel>\n</rss>\n")
    return "".join(out).encode()


# -- the answers -------------------------------------------------------------------------------

Answer = tuple[int, dict[str, str], bytes]
#: The feed's content type is not recorded; RSS as XML text is assumed.
_XML = {"content-type": "text/xml; charset=utf-8"}
_HTML = {"content-type": "text/html; charset=utf-8"}
_FILE = re.compile(r"shorthalts(\d{8})\.txt$")


def not_found_page() -> bytes:
    """A site's "page not found" page, as a missing day's file is answered (an imitation)."""
    return (
        b'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Nasdaq Trader - '
        b"Page Not Found</title></head>\n<body><h1>We're sorry</h1><p>The page you requested "
        b"could not be found.</p></body></html>\n"
    )


def _halt_date(text: str) -> date | None:
    for layout in ("%m%d%Y", "%m/%d/%Y"):
        try:
            return datetime.strptime(text, layout).date()
        except ValueError:
            continue
    return None


def feed_answer(
    market: SimMarket,
    params: dict[str, str],
    now: datetime,
    fault: str | None = None,
    rng: random.Random | None = None,
) -> Answer:
    """The halts feed (`/rss.aspx?feed=tradehalts[&haltdate=MMDDYYYY]`) at `now`, or as a
    `halts_*` fault shapes it (see `simulated.faults`)."""
    if params.get("feed", "").lower() != "tradehalts":
        return 404, _HTML, not_found_page()
    day: date | None = None
    if "haltdate" in params:
        day = _halt_date(params["haltdate"].strip())
        if day is None:
            return 200, dict(_XML), render_feed([], now)
    generated = now - timedelta(minutes=30) if fault == "halts_stale" else now
    items = items_at(market, generated, day)
    rng = rng or random.Random(0)
    if fault == "halts_empty":
        items = []
    elif fault == "halts_prev_day":
        today = now.astimezone(mh.ET).date()
        items = [i.redated(mh.previous_trading_day(i.day)) if i.day >= today else i for i in items]
    elif fault == "halts_repeat" and items:
        k = rng.randrange(len(items))
        items.insert(k, items[k])
    elif fault == "halts_malformed":
        if items:
            k = rng.randrange(len(items))
            garbage = rng.choice(("", "99:61:00", "n/a", "10:3O:00"))
            items[k] = items[k].with_field("HaltTime", garbage)
        else:
            items = [FeedItem(("",) * len(FIELDS), now.astimezone(mh.ET).date())]
    return 200, dict(_XML), render_feed(items, generated)


def ssr_answer(market: SimMarket, path: str, now: datetime, *, html: bool = False) -> Answer:
    """`shorthalts{YYYYMMDD}.txt` at `now`: the day's file (the current trading day's grows
    during the day); 404 with a web page for a day without one (a weekend, a holiday, a day to
    come, or one the market did not simulate); with `html` (the `ssr_html` fault), 200 and a web
    page instead of the file."""
    match = _FILE.search(path)
    wanted: date | None = None
    if match is not None:
        try:
            wanted = datetime.strptime(match.group(1), "%Y%m%d").date()
        except ValueError:
            wanted = None
    current, _ = market.trading_day_at(now)
    if wanted is None or wanted > current or not mh.is_trading_day(wanted):
        return 404, dict(_HTML), not_found_page()
    if html:
        return 200, dict(_HTML), not_found_page()
    before: AnyDay | None
    if wanted == current:
        day: AnyDay | None = market.day_for(wanted)
        before = market.session_before(wanted)
        cutoff: datetime | None = now
    else:
        day = market.known_session(wanted)
        if day is None and wanted == mh.previous_trading_day(current):
            day = market.session_before(current)
        before = market.known_session(mh.previous_trading_day(wanted))
        cutoff = None
    if day is None:
        return 404, dict(_HTML), not_found_page()
    body = ssr_file(ssr_rows(market, before, day, cutoff), now)
    return 200, {"content-type": "text/plain"}, body
