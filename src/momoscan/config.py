"""Settings: a TOML file plus the environment, validated into typed objects.

Where the file comes from: `--config PATH`, else `$MOMOSCAN_CONFIG`, else `config.toml` in the
platform's config directory. A missing file means defaults. Anything wrong in it (bad TOML, an
unknown key, a wrong type or value) raises `ConfigError`, whose text names the file, the key and
the line where known; the CLI prints that one line and exits 2.

API keys also come from TWELVEDATA_API_KEY, NASDAQ_DATA_LINK_API_KEY and FINNHUB_API_KEY, which
win over the file.
Keys never appear in a repr, an error or a log line (see `redact`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Any

import platformdirs

from .models import CAP_TIERS, DEFAULT_CAP_TIERS

APP_NAME = "momoscan"
CONFIG_ENV = "MOMOSCAN_CONFIG"
TWELVEDATA_KEY_ENV = "TWELVEDATA_API_KEY"
NASDAQ_KEY_ENV = "NASDAQ_DATA_LINK_API_KEY"
FINNHUB_KEY_ENV = "FINNHUB_API_KEY"


def default_config_path() -> Path:
    return platformdirs.user_config_path(APP_NAME) / "config.toml"


def default_db_path() -> Path:
    return platformdirs.user_data_path(APP_NAME) / "momoscan.db"


class ConfigError(Exception):
    """A config file that cannot be used. `str()` is the one line the user sees."""

    def __init__(self, path: Path | None, message: str, *, key: str = "", line: int | None = None):
        self.path = path
        self.key = key
        self.line = line
        where = str(path) if path else "config"
        if line is not None:
            where += f":{line}"
        subject = f"{key}: " if key else ""
        super().__init__(f"{where}: {subject}{message}")


# ---------------------------------------------------------------------------------------------
# The settings. Each section is a dataclass; each field's docstring-comment is what
# config.toml.example says about it. Field types drive validation.


@dataclass
class ScanSettings:
    refresh_interval: float = 60.0
    """Seconds between refresh cycles in the TUI and in `--headless` without `--once`."""
    watchlist: list[str] = field(default_factory=list)
    """Symbols refreshed every cycle and always in the options watch set."""
    movers: str = "moves"
    """What the movers table shows at start: moves (the largest either way), gainers or
    losers (the m key cycles them)."""
    scheduler: str = "priority"
    """How each cycle spends the minute's credits: "priority" (on the symbols most likely to
    be moving, each seen within a bound; see the README) or "round_robin" (the symbols on
    screen, then the rest stalest first)."""
    max_float: float | None = None
    """Leave out of the tables (and their entrants) the names whose float is above this many
    shares (e.g. 20e6 or 20_000_000), beside the cap tiers; names without a float figure
    stay (unknown is not large)."""
    min_float: float | None = None
    """Leave out of the tables the names whose float is below this many shares."""

    @property
    def float_bounds(self) -> tuple[float | None, float | None]:
        """(min_float, max_float): the tables' float filter, shares."""
        return (self.min_float, self.max_float)


@dataclass
class UniverseSettings:
    source: str = "auto"
    """Where the universe comes from: auto, nasdaq, file, builtin or demo."""
    path: str = ""
    """With source = "file": a CSV or plain list of symbols."""
    cap_tiers: list[str] = field(default_factory=lambda: list(DEFAULT_CAP_TIERS))
    """Market-cap tiers to scan: nano, micro, small, mid, large, mega."""
    min_price: float = 1.0
    """Symbols under this last price never appear in the movers and volume tables."""


@dataclass
class TwelveDataSettings:
    api_key: str = field(default="", repr=False)
    """Twelve Data API key (or TWELVEDATA_API_KEY); without one, momoscan runs the demo."""
    base_url: str = "https://api.twelvedata.com"
    """API root, for proxies and tests."""
    plan_limit: int = 0
    """Credits per minute of your plan; 0 reads it from /api_usage at start."""
    batch_size: int = 120
    """Symbols per /quote request (Twelve Data allows at most 120)."""
    concurrency: int = 4
    """Quote requests in flight at once."""
    timeout: float = 20.0
    """Seconds one request may take in all (connect, headers and body) before a retry."""
    extended_hours: bool = False
    """Also refresh pre-market and after hours (asks for extended prices: Pro plan and up)."""
    market_movers: bool = True
    """With the priority scheduler, on plans that have it (Pro and up): ask for the market's
    top gainers and losers (/market_movers/stocks, 100 credits) when that finds more than the
    same credits of quotes."""


@dataclass
class StreamSettings:
    enabled: bool = True
    """Stream the hot set (top movers, losers and volume leaders, the watchlist) over Twelve
    Data's WebSocket while the app or --headless runs; the sweep polls the rest."""
    url: str = "wss://ws.twelvedata.com/v1/quotes/price"
    """The price stream's URL (the key is added as its apikey parameter)."""
    max_symbols: int = 0
    """WebSocket credits to use at most; 0 streams the whole hot set and learns the plan's
    limit from the symbols the server refuses."""


@dataclass
class NasdaqSettings:
    api_key: str = field(default="", repr=False)
    """Nasdaq Data Link API key (or NASDAQ_DATA_LINK_API_KEY), for the SHARADAR/TICKERS universe."""
    api_base: str = "https://data.nasdaq.com/api/v3"
    """API root, for proxies and tests."""


@dataclass
class CboeSettings:
    base_url: str = "https://cdn.cboe.com"
    """Root of Cboe's delayed-quotes CDN, for mirrors, proxies and tests."""
    max_concurrency: int = 4
    """Chains downloaded at once."""
    requests_per_minute: int = 120
    """Politeness cap on chain requests."""
    timeout: float = 30.0
    """Seconds one chain download may take in all (connect, headers and body) before a retry."""


@dataclass
class OccSettings:
    base_url: str = "https://marketdata.theocc.com"
    """Root of OCC's market-data site, for mirrors, proxies and tests."""
    max_concurrency: int = 2
    """Day files downloaded at once."""
    requests_per_minute: int = 20
    """Politeness cap on day-file requests."""
    timeout: float = 90.0
    """Seconds one day file may take in all (connect, headers and body) before a retry."""


@dataclass
class HaltsSettings:
    halts_url: str = "https://www.nasdaqtrader.com/rss.aspx?feed=tradehalts"
    """Nasdaq Trader's trade halts RSS (keyless, every US listing), for mirrors, proxies and
    tests."""
    ssr_url: str = "https://www.nasdaqtrader.com/dynamic/symdir/shorthalts/"
    """Folder of Nasdaq Trader's daily Rule 201 (short sale restriction) files,
    shorthalts{YYYYMMDD}.txt."""
    poll_seconds: float = 60.0
    """Seconds between reads of the halts feed; at least 60, the feed's own ttl of a minute."""


@dataclass
class SecSettings:
    user_agent: str = ""
    """Who momoscan tells the SEC it is, "Your Name you@example.com": the SEC asks every
    automated client to declare a name and a contact and refuses undeclared traffic (403).
    Empty: SEC EDGAR (filings, float) stays off and says once how to set it."""
    tickers_url: str = "https://www.sec.gov/files/company_tickers_exchange.json"
    """The SEC's ticker -> CIK map (keyless; read once a day)."""
    current_url: str = "https://www.sec.gov/cgi-bin/browse-edgar?action=getcurrent"
    """EDGAR's current-filings feed (the Atom output; keyless)."""
    facts_url: str = "https://data.sec.gov/api/xbrl/companyfacts/"
    """Folder of EDGAR's XBRL company facts, CIK##########.json (shares outstanding and
    public float; keyless)."""
    facts_refresh_days: float = 7.0
    """Days before a company's facts are read again (they change with each 10-Q or 10-K)."""
    poll_seconds: float = 60.0
    """Seconds between reads of the current-filings feed (04:00-20:00 ET); at least 10."""


@dataclass
class FinraSettings:
    short_interest_url: str = "https://cdn.finra.org/equity/otcmarket/biweekly/"
    """Folder of FINRA's twice-monthly short interest files, shrt{YYYYMMDD}.csv (keyless)."""
    short_volume_url: str = "https://cdn.finra.org/equity/regsho/daily/"
    """Folder of FINRA's daily consolidated short sale volume files,
    CNMSshvol{YYYYMMDD}.txt (keyless)."""


@dataclass
class NewsSettings:
    provider: str = ""
    """The optional news provider: "" (none) or "finnhub" (company news for the watchlist and
    the names on screen, shown like a filing, `NEWS · 14m`; needs `api_key`)."""
    api_key: str = field(default="", repr=False)
    """The news provider's API key (or FINNHUB_API_KEY); Finnhub's free tier allows 60 calls
    a minute (unconfirmed)."""
    base_url: str = "https://finnhub.io/api/v1"
    """The news provider's API root, for proxies and tests."""
    poll_seconds: float = 300.0
    """Seconds between polls of the news provider (04:00-20:00 ET; at most 30 names a poll);
    at least 60."""


@dataclass
class OptionsSettings:
    enabled: bool = True
    """Fetch options volume (OCC daily leaders and Cboe intraday chains)."""
    watch_size: int = 30
    """Underlyings whose intraday chains are fetched each cycle."""
    include_etfs: bool = False
    """Keep ETFs and index products (SPY, QQQ, SPX...) in the daily leaderboard."""
    leaders_in_universe: bool = False
    """Rank only the universe's symbols (your cap tiers) in the daily leaderboard."""
    lookback_days: int = 20
    """A leader is NEW when it was in none of the previous this-many days' top 10."""
    unusual_volume_oi: float = 1.25
    """A contract is unusual when volume / open interest is at least this..."""
    unusual_min_volume: int = 500
    """...and its volume at least this."""
    contract_days: int = 5
    """Days of per-contract rows kept (the current day included)."""
    chain_max_age: float = 600.0
    """Seconds (by the market clock) after which a chain is stale: dimmed in the options
    panel and left out of the shares."""


@dataclass
class StoreSettings:
    path: str = ""
    """SQLite file; empty means momoscan.db in the platform data directory."""
    history_days: int = 5
    """Days of intraday quote history kept."""


@dataclass
class DemoSettings:
    seed: int = 7
    """Seed of the simulated market: the same seed and clock give the same market."""
    size: int = 0
    """Universe size; 0 means the built-in real symbols only, more adds synthetic ones."""
    speed: float = 5.0
    """Simulated seconds per real second."""
    date: str = ""
    """Simulated session date (YYYY-MM-DD); empty means the latest trading day."""
    start: str = "10:00"
    """Simulated time of day (ET, HH:MM) when momoscan starts."""
    plan_limit: int = 1597
    """Credits per minute the simulated Twelve Data plan allows."""
    daily_limit: int = 0
    """Credits per day of the simulated plan; 0 for none (Twelve Data's free plan has 800)."""
    faults: str = ""
    """Faults the simulated market serves, as the real services do: "all", or names with
    rates like "td_5xx=0.2,occ_html" (see the README)."""
    runners: str = "mixed"
    """Where the simulated market's runners come from: "mixed" (a realistic mix: runners that
    build, news jumps, pre-market gappers, grinders, false starts) or "surprise" (jumps from
    names with no prior signal, to see the scheduler when nothing predicts a move)."""


@dataclass(frozen=True)
class AlertRule:
    """One `[[alerts.rules]]` table: a symbol (or every symbol) and conditions that must all
    hold at once for the rule to fire. Thresholds left out (None) are not conditions."""

    name: str = ""
    """A name shown with each alert; empty: the alert says what crossed."""
    symbol: str = ""
    """The symbol watched (any spelling the watchlist takes, ^SPX included); empty: every
    symbol of the universe in your cap tiers and above the price floor."""
    price_above: float | None = None
    """Fires when the price is at or above this (dollars)."""
    price_below: float | None = None
    """Fires when the price is at or below this (dollars)."""
    pct_above: float | None = None
    """Fires when the change from the previous close is at or above this (percent: 5 is +5%)."""
    pct_below: float | None = None
    """Fires when the change from the previous close is at or below this (percent: -5 is
    down 5%)."""
    rvol_above: float | None = None
    """Fires when relative volume (volume / average daily volume) is at or above this."""
    options_share_above: float | None = None
    """Fires when the symbol's share of the options watch set's volume today is at or above
    this (percent)."""
    new_options_entrant: bool = False
    """Fires when the symbol is a new entrant to the daily options top 10."""
    new_high: bool = False
    """Fires once for each new high of the day the symbol makes (regular session; the first
    print of the day is not one); with pct_above or rvol_above: a new high made while the
    change or RVol is at least that."""
    pct_in_minutes: tuple[float, int] | None = None
    """[X, N]: fires when the price has moved X percent or more within the last N minutes
    (X > 0: up from the lowest price of those minutes; X < 0: down from the highest), N a
    whole number of minutes from 5; measured on momoscan's 5-minute samples, so N holds to
    within 5 minutes."""
    halt: bool = False
    """Fires once for each trading halt of the symbol (Nasdaq Trader's feed), with its reason
    and resumption time."""
    resume: bool = False
    """Fires once when a halt of the symbol ends (trading resumes)."""
    ssr: bool = False
    """Fires once when a short-sale restriction (Rule 201) comes into force on the symbol."""
    lead: bool = False
    """Fires once a day when the symbol becomes options-led: its options activity (a NEW
    entrant of the daily options top 10, a first unusual contract) came before its price run,
    within two hours (`momoscan.lead`)."""

    @property
    def event(self) -> str:
        """The rule's event-like condition (one of `EVENT_CONDITIONS`), "" when it has none:
        such a rule fires once per event, not once per crossing."""
        return next((n for n in EVENT_CONDITIONS if getattr(self, n)), "")

    @property
    def key(self) -> str:
        """What identifies the rule's state in the database: its symbol and conditions (a
        renamed rule keeps its state; a rule whose conditions change starts afresh)."""
        parts = [f"symbol={self.symbol or '*'}"]
        for name in CONDITIONS:
            value = getattr(self, name)
            if value is not None and value is not False:
                parts.append(f"{name}={value!r}")
        return ";".join(parts)

    @property
    def conditions(self) -> list[tuple[str, Threshold]]:
        """(key, threshold) of each condition the rule sets, in a fixed order."""
        out: list[tuple[str, Threshold]] = []
        for name in CONDITIONS:
            value = getattr(self, name)
            if value is not None and value is not False:
                out.append((name, value))
        return out


#: The rule keys that are conditions, in the order alerts describe them.
CONDITIONS = (
    "price_above",
    "price_below",
    "pct_above",
    "pct_below",
    "rvol_above",
    "options_share_above",
    "new_options_entrant",
    "new_high",
    "pct_in_minutes",
    "halt",
    "resume",
    "ssr",
    "lead",
)

#: The conditions on a symbol's quote (and its stored intraday path).
QUOTE_CONDITIONS = (
    "price_above",
    "price_below",
    "pct_above",
    "pct_below",
    "rvol_above",
    "new_high",
    "pct_in_minutes",
)

#: The event-like conditions: each fires once per event (a new high, a halt, a resumption, a
#: restriction, an options-led run), remembered in the database; a rule holds at most one.
EVENT_CONDITIONS = ("new_high", "halt", "resume", "ssr", "lead")

#: The conditions on what the halts feed and the Rule 201 list say.
HALT_CONDITIONS = ("halt", "resume", "ssr")

#: A condition's threshold: a number, true, or pct_in_minutes' (percent, minutes).
Threshold = float | bool | tuple[float, int]

#: pct_in_minutes' N: from one history bucket (5 minutes) to a whole extended day (minutes).
PCT_MINUTES = (5, 960)


@dataclass
class AlertSettings:
    bell: bool = False
    """Ring the terminal bell with each alert."""
    desktop: bool = True
    """Also show each alert as a desktop notification, where the system has a notification
    service (silently skipped where it has none)."""
    rearm_pct: float = 1.0
    """Hysteresis: a fired rule fires again only once its value has gone back past the
    threshold by this percent of it (for % change thresholds: this many percentage points)."""
    rules: list[AlertRule] = field(default_factory=list)
    """Your alert rules, each a [[alerts.rules]] table (see the example below and the README)."""
    push: list[str] = field(default_factory=list, repr=False)
    """Push channels for alerts, as Apprise URLs: "ntfys://ntfy.sh/your-topic",
    "pover://user@token", "tgram://bottoken/chat_id", "discord://id/token",
    "json://localhost:8080/hook" (every service: github.com/caronc/apprise/wiki). ${NAME} in a
    URL is read from the environment, so a token can stay out of this file. Only the collector
    pushes; `momoscan alerts test` sends a test message to each."""
    push_per_minute: int = 6
    """Push messages at most in any minute; alerts beyond wait and go in the next message."""
    push_group_seconds: float = 10.0
    """Alerts within this many seconds of the first of a burst are pushed as one message."""
    push_scanner: bool = True
    """Also push the scanner's own entries (a name entering the top movers or top volume, a
    new options top-10 entrant); false pushes only your rules' alerts."""


@dataclass
class RecordSettings:
    move_pct: float = 5.0
    """A signal's record counts those that moved at least this percent its way by the close
    (the badge's "≥5% by close")."""
    min_sample: int = 10
    """No badge for a signal kind with fewer measured signals than this."""


@dataclass
class ServeSettings:
    max_sessions: int = 5
    """Browser tabs `momoscan serve` runs at once, each a viewer of serve's one collector (about
    55 MB a tab, over some 200 MB for serve and the collector); more see a page saying it is
    full (--max-sessions overrides)."""


@dataclass
class Settings:
    scan: ScanSettings = field(default_factory=ScanSettings)
    universe: UniverseSettings = field(default_factory=UniverseSettings)
    twelvedata: TwelveDataSettings = field(default_factory=TwelveDataSettings)
    stream: StreamSettings = field(default_factory=StreamSettings)
    nasdaq: NasdaqSettings = field(default_factory=NasdaqSettings)
    cboe: CboeSettings = field(default_factory=CboeSettings)
    occ: OccSettings = field(default_factory=OccSettings)
    halts: HaltsSettings = field(default_factory=HaltsSettings)
    sec: SecSettings = field(default_factory=SecSettings)
    finra: FinraSettings = field(default_factory=FinraSettings)
    news: NewsSettings = field(default_factory=NewsSettings)
    options: OptionsSettings = field(default_factory=OptionsSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    demo: DemoSettings = field(default_factory=DemoSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    serve: ServeSettings = field(default_factory=ServeSettings)
    record: RecordSettings = field(default_factory=RecordSettings)
    source_path: Path | None = None
    """The file these settings came from, or None for defaults."""

    @property
    def secrets(self) -> list[str]:
        keys = (self.twelvedata.api_key, self.nasdaq.api_key, self.news.api_key)
        return [s for s in keys if s]

    @property
    def has_live_keys(self) -> bool:
        return bool(self.twelvedata.api_key)

    def db_path(self, override: str | Path | None = None) -> Path:
        if override:
            return Path(override).expanduser()
        if self.store.path:
            return Path(self.store.path).expanduser()
        return default_db_path()


SECTIONS: dict[str, type[Any]] = {
    f.name: f.type if isinstance(f.type, type) else eval(f.type)
    for f in dataclasses.fields(Settings)
    if f.name != "source_path"
}


# ---------------------------------------------------------------------------------------------
# Validation of values beyond their type.


def _check_choice(choices: tuple[str, ...]) -> typing.Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        values = value if isinstance(value, list) else [value]
        bad = [v for v in values if v not in choices]
        if bad:
            return f"{bad[0]!r} is not one of {', '.join(choices)}"
        return None

    return check


def _positive(value: Any) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _non_negative(value: Any) -> str | None:
    return None if value >= 0 else "must be 0 or more"


def _hhmm(value: Any) -> str | None:
    try:
        time.fromisoformat(value)
    except ValueError:
        return f"{value!r} is not a time like 09:45"
    return None


def _iso_date(value: Any) -> str | None:
    if value == "":
        return None
    try:
        date.fromisoformat(value)
    except ValueError:
        return f"{value!r} is not a date like 2026-11-20"
    return None


def _at_least_a_minute(value: Any) -> str | None:
    return None if value >= 60 else "must be 60 or more (the feed changes at most once a minute)"


def _at_least_ten(value: Any) -> str | None:
    return None if value >= 10 else "must be 10 or more (seconds)"


def _batch(value: Any) -> str | None:
    return None if 1 <= value <= 120 else "must be between 1 and 120"


def _url(value: Any) -> str | None:
    return None if re.match(r"^https?://[^\s/]+", value) else f"{value!r} is not an http(s) URL"


def _ws_url(value: Any) -> str | None:
    return None if re.match(r"^wss?://[^\s/]+", value) else f"{value!r} is not a ws(s):// URL"


def _fault_spec(value: Any) -> str | None:
    from .simulated.faults import FaultPlan

    try:
        FaultPlan.parse(value)
    except ValueError as exc:
        return str(exc)
    return None


def _push_urls(value: Any) -> str | None:
    # The URL itself is never echoed: it holds the channel's token.
    for number, url in enumerate(value, start=1):
        if not re.match(r"^\s*[A-Za-z][A-Za-z0-9+.-]*://\S", url):
            return (
                f'entry {number} is not an Apprise URL like "ntfys://ntfy.sh/your-topic" '
                "(scheme://...; every service: github.com/caronc/apprise/wiki)"
            )
    return None


def _non_empty_tiers(value: Any) -> str | None:
    return _check_choice(CAP_TIERS)(value) or (None if value else "needs at least one tier")


CHECKS: dict[tuple[str, str], typing.Callable[[Any], str | None]] = {
    ("scan", "refresh_interval"): _positive,
    ("scan", "movers"): _check_choice(("moves", "gainers", "losers")),
    ("scan", "scheduler"): _check_choice(("priority", "round_robin")),
    ("scan", "max_float"): _positive,
    ("scan", "min_float"): _positive,
    ("universe", "source"): _check_choice(("auto", "nasdaq", "file", "builtin", "demo")),
    ("universe", "cap_tiers"): _non_empty_tiers,
    ("universe", "min_price"): _non_negative,
    ("twelvedata", "base_url"): _url,
    ("twelvedata", "plan_limit"): _non_negative,
    ("twelvedata", "batch_size"): _batch,
    ("twelvedata", "concurrency"): _positive,
    ("twelvedata", "timeout"): _positive,
    ("stream", "url"): _ws_url,
    ("stream", "max_symbols"): _non_negative,
    ("nasdaq", "api_base"): _url,
    ("cboe", "base_url"): _url,
    ("cboe", "max_concurrency"): _positive,
    ("cboe", "requests_per_minute"): _positive,
    ("cboe", "timeout"): _positive,
    ("occ", "base_url"): _url,
    ("occ", "max_concurrency"): _positive,
    ("occ", "requests_per_minute"): _positive,
    ("occ", "timeout"): _positive,
    ("halts", "halts_url"): _url,
    ("halts", "ssr_url"): _url,
    ("halts", "poll_seconds"): _at_least_a_minute,
    ("sec", "tickers_url"): _url,
    ("sec", "current_url"): _url,
    ("sec", "facts_url"): _url,
    ("sec", "facts_refresh_days"): _positive,
    ("sec", "poll_seconds"): _at_least_ten,
    ("finra", "short_interest_url"): _url,
    ("finra", "short_volume_url"): _url,
    ("news", "provider"): _check_choice(("", "finnhub")),
    ("news", "base_url"): _url,
    ("news", "poll_seconds"): _at_least_a_minute,
    ("options", "watch_size"): _non_negative,
    ("options", "lookback_days"): _positive,
    ("options", "unusual_volume_oi"): _positive,
    ("options", "unusual_min_volume"): _non_negative,
    ("options", "contract_days"): _positive,
    ("options", "chain_max_age"): _positive,
    ("store", "history_days"): _positive,
    ("demo", "size"): _non_negative,
    ("demo", "speed"): _positive,
    ("demo", "date"): _iso_date,
    ("demo", "start"): _hhmm,
    ("demo", "plan_limit"): _positive,
    ("demo", "daily_limit"): _non_negative,
    ("demo", "faults"): _fault_spec,
    ("alerts", "rearm_pct"): _non_negative,
    ("alerts", "push"): _push_urls,
    ("alerts", "push_per_minute"): _positive,
    ("alerts", "push_group_seconds"): _non_negative,
    ("demo", "runners"): _check_choice(("mixed", "surprise")),
    ("serve", "max_sessions"): _positive,
    ("record", "move_pct"): _positive,
    ("record", "min_sample"): _positive,
}


# ---------------------------------------------------------------------------------------------
# Loading.


def _optional(tp: Any) -> Any:
    """The inner type of `X | None`, else None."""
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in args:
        return next(a for a in args if a is not type(None))
    return None


def _type_name(tp: Any) -> str:
    if _optional(tp) is not None:
        return _type_name(_optional(tp))
    if tp is float:
        return "a number"
    if tp is int:
        return "a whole number"
    if tp is bool:
        return "true or false"
    if tp is str:
        return "a string"
    return "a list of strings"


def _coerce(value: Any, tp: Any) -> tuple[bool, Any]:
    """Whether `value` from TOML fits the field type `tp`, and the value to store."""
    if _optional(tp) is not None:
        # TOML has no null: an optional setting is either set to a value or left out.
        return _coerce(value, _optional(tp))
    if tp is bool:
        return isinstance(value, bool), value
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if tp is float:
        # TOML has inf and nan; no setting means either.
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        return ok, float(value) if ok else value
    if tp is str:
        return isinstance(value, str), value
    origin = typing.get_origin(tp)
    if origin is list:
        return isinstance(value, list) and all(isinstance(v, str) for v in value), value
    raise TypeError(f"unsupported settings type {tp!r}")  # a bug in this module, not user input


def _find_line(text: str, section: str, key: str | None) -> int | None:
    """The line where `[section]` (or `key` inside it) is written, for error messages."""
    current = ""
    section_line = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        header = re.match(r"^\[\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]", line)
        if header:
            current = header.group(1).strip("\"' ")
            if current == section and key is None:
                return number
            if current == section:
                section_line = number
            continue
        if key is None:
            # A dotted or inline key at the top level: `universe.source = ...`, `universe = {...}`.
            if re.match(rf"^{re.escape(section)}\s*[.=]", line) and not current:
                return number
            continue
        if current == section and re.match(rf"^[\"']?{re.escape(key)}[\"']?\s*=", line):
            return number
        if not current and re.match(rf"^{re.escape(section)}\s*\.\s*{re.escape(key)}\s*=", line):
            return number
    return section_line


def _suggest(name: str, options: typing.Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def parse_settings(text: str, path: Path | None = None) -> Settings:
    """Settings from TOML text. Raises ConfigError naming the key and line of the first problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = re.search(r"at line (\d+)", message)
        line = int(match.group(1)) if match else None
        if line is None and "end of document" in message:
            line = max(1, len(text.splitlines()))
        message = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", message)
        raise ConfigError(path, f"not valid TOML: {message}", line=line) from None

    settings = Settings(source_path=path)
    for section_name, section_value in data.items():
        if section_name not in SECTIONS:
            raise ConfigError(
                path,
                "unknown section" + _suggest(section_name, SECTIONS),
                key=f"[{section_name}]",
                line=_find_line(text, section_name, None),
            )
        if not isinstance(section_value, dict):
            raise ConfigError(
                path,
                "must be a table: write it as a [section] header",
                key=section_name,
                line=_find_line(text, section_name, None),
            )
        section_cls = SECTIONS[section_name]
        hints = typing.get_type_hints(section_cls)
        section_obj = getattr(settings, section_name)
        for key, value in section_value.items():
            qualified = f"[{section_name}] {key}"
            if key not in hints:
                raise ConfigError(
                    path,
                    "unknown key" + _suggest(key, hints),
                    key=qualified,
                    line=_find_line(text, section_name, key),
                )
            if (section_name, key) in TABLE_LISTS:
                setattr(section_obj, key, TABLE_LISTS[section_name, key](value, text, path))
                continue
            ok, coerced = _coerce(value, hints[key])
            if not ok:
                shown = "(hidden)" if key in ("api_key", "push") else f"{value!r}"
                raise ConfigError(
                    path,
                    f"must be {_type_name(hints[key])}, not {shown}",
                    key=qualified,
                    line=_find_line(text, section_name, key),
                )
            check = CHECKS.get((section_name, key))
            problem = check(coerced) if check else None
            if isinstance(coerced, float) and not math.isfinite(coerced):
                # TOML has inf and nan; no setting means either (inf would stop a clock).
                problem = f"must be a finite number, not {value!r}"
            if problem:
                raise ConfigError(
                    path, problem, key=qualified, line=_find_line(text, section_name, key)
                )
            setattr(section_obj, key, coerced)
    settings.scan.watchlist = _watchlist(settings.scan.watchlist, text, path)
    return settings


def _watchlist(entries: list[str], text: str, path: Path | None) -> list[str]:
    """The watchlist in momoscan's spelling (`BRK-B` is `BRK.B`; an index written `^SPX` is
    the root `SPX`, whose chain Cboe serves as `_SPX`), duplicates dropped.

    Raises:
        ConfigError: an entry is not a stock symbol or a known index root.
    """
    from .symbols import watchlist_entry

    out: list[str] = []
    for entry in entries:
        if not entry.strip():
            continue
        try:
            symbol = watchlist_entry(entry)
        except ValueError as exc:
            raise ConfigError(
                path, str(exc), key="[scan] watchlist", line=_find_line(text, "scan", "watchlist")
            ) from None
        if symbol not in out:
            out.append(symbol)
    return out


# ---------------------------------------------------------------------------------------------
# Alert rules: an array of tables, [[alerts.rules]].

RULE_HEADER = re.compile(r"^\[\[\s*alerts\s*\.\s*rules\s*\]\]")


def _rule_line(text: str, index: int, key: str | None) -> int | None:
    """The line of the `index`-th (from 0) `[[alerts.rules]]` header, or of `key` inside it;
    for rules written inline (`rules = [{...}]`), the line of `rules`."""
    seen = -1
    header = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if RULE_HEADER.match(line):
            seen += 1
            if seen == index:
                header = number
                if key is None:
                    return number
            elif seen > index:
                break
            continue
        if line.startswith("[") and header is not None:
            break
        if header is not None and key and re.match(rf"^[\"']?{re.escape(key)}[\"']?\s*=", line):
            return number
    return header or _find_line(text, "alerts", "rules")


def _rule_number(value: Any) -> tuple[bool, float | None]:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return True, float(value)
    return False, None


def _pct_in_minutes(raw: Any, fail: typing.Callable[[str], ConfigError]) -> tuple[float, int]:
    """`pct_in_minutes = [X, N]` as (percent, whole minutes); `fail` builds the error."""
    if not isinstance(raw, list) or len(raw) != 2:
        raise fail(f"must be [percent, minutes] such as [5, 10], not {raw!r}")
    ok, pct = _rule_number(raw[0])
    if not ok or pct is None or pct == 0:
        raise fail(
            f"the percent must be a number other than 0 (5: up 5%, -5: down 5%), not {raw[0]!r}"
        )
    minutes = raw[1]
    low, high = PCT_MINUTES
    if isinstance(minutes, float) and minutes.is_integer():
        minutes = int(minutes)
    if not isinstance(minutes, int) or isinstance(minutes, bool) or not low <= minutes <= high:
        raise fail(
            f"the minutes must be a whole number from {low} to {high} (momoscan keeps a price "
            f"every {low} minutes), not {raw[1]!r}"
        )
    return pct, minutes


def _alert_rules(value: Any, text: str, path: Path | None) -> list[AlertRule]:
    """`[[alerts.rules]]` tables as AlertRule objects.

    Raises:
        ConfigError: naming `[[alerts.rules]] key` and its line: an unknown key, a wrong type,
            a symbol momoscan cannot watch, a rule without a condition or one that can never
            hold.
    """
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(
            path,
            "must be tables: write each rule under its own [[alerts.rules]] header",
            key="[alerts] rules",
            line=_find_line(text, "alerts", "rules"),
        )
    from .symbols import INDEX_ROOTS, watchlist_entry

    hints = typing.get_type_hints(AlertRule)
    rules = []
    for index, table in enumerate(value):

        def fail(message: str, key: str | None = None, index: int = index) -> ConfigError:
            return ConfigError(
                path,
                message,
                key=f"[[alerts.rules]] {key}" if key else "[[alerts.rules]]",
                line=_rule_line(text, index, key),
            )

        fields: dict[str, Any] = {}
        for key, raw in table.items():
            if key not in hints:
                raise fail("unknown key" + _suggest(key, hints), key)
            if key in ("name", "symbol"):
                if not isinstance(raw, str):
                    raise fail(f"must be a string, not {raw!r}", key)
                fields[key] = raw.strip()
            elif key in ("new_options_entrant", *EVENT_CONDITIONS):
                if not isinstance(raw, bool):
                    raise fail(f"must be true or false, not {raw!r}", key)
                fields[key] = raw
            elif key == "pct_in_minutes":
                fields[key] = _pct_in_minutes(raw, functools.partial(fail, key=key))
            else:
                ok, number = _rule_number(raw)
                if not ok:
                    raise fail(f"must be a number, not {raw!r}", key)
                positive = key in ("price_above", "price_below", "rvol_above")
                if positive and number is not None and number <= 0:
                    raise fail("must be greater than 0", key)
                if key == "options_share_above" and not 0 < (number or 0) <= 100:
                    raise fail("must be a percent greater than 0, at most 100", key)
                fields[key] = number
        if fields.get("symbol"):
            try:
                fields["symbol"] = watchlist_entry(fields["symbol"])
            except ValueError as exc:
                raise fail(str(exc), "symbol") from None
        rule = AlertRule(**fields)
        quoted = [n for n, _ in rule.conditions if n in QUOTE_CONDITIONS]
        if quoted and rule.symbol in INDEX_ROOTS:
            raise fail(
                f"{rule.symbol} is an index, which momoscan has option chains for but no "
                "quotes; use options_share_above or new_options_entrant",
                quoted[0],
            )
        if not rule.conditions:
            raise fail(f"needs a condition: one of {', '.join(CONDITIONS)}")
        events = [n for n in EVENT_CONDITIONS if getattr(rule, n)]
        if len(events) > 1:
            raise fail(
                f"{events[0]} and {events[1]} are different events, which never happen at "
                "once; write a rule for each",
                events[1],
            )
        for low, high in (("price_below", "price_above"), ("pct_below", "pct_above")):
            below, above = getattr(rule, low), getattr(rule, high)
            if below is not None and above is not None and below < above:
                raise fail(
                    f"{low} {below:g} and {high} {above:g} can never hold at once (a rule's "
                    "conditions must all hold); write two rules",
                    low,
                )
        rules.append(rule)
    return rules


#: Settings that are arrays of tables, each with its own parser.
TABLE_LISTS: dict[tuple[str, str], typing.Callable[[Any, str, Path | None], Any]] = {
    ("alerts", "rules"): _alert_rules,
}


def resolve_config_path(cli_path: str | None, environ: typing.Mapping[str, str]) -> Path:
    if cli_path:
        return Path(cli_path).expanduser()
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV]).expanduser()
    return default_config_path()


def load_settings(
    cli_path: str | None = None, environ: typing.Mapping[str, str] | None = None
) -> Settings:
    """Settings from the chosen file (defaults if it does not exist) and the environment.

    A path given explicitly (`--config` or $MOMOSCAN_CONFIG) must exist; the default one may not.
    """
    env = os.environ if environ is None else environ
    path = resolve_config_path(cli_path, env)
    explicit = bool(cli_path or env.get(CONFIG_ENV))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if explicit:
            raise ConfigError(path, "file not found") from None
        settings = Settings(source_path=None)
    except UnicodeDecodeError:
        raise ConfigError(path, "not valid TOML: the file is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(path, f"cannot be read ({exc.strerror})") from None
    else:
        settings = parse_settings(text, path)
        settings.alerts.push = _expand_push(settings.alerts.push, env, text, path)
    if env.get(TWELVEDATA_KEY_ENV, "").strip():
        settings.twelvedata.api_key = env[TWELVEDATA_KEY_ENV].strip()
    if env.get(NASDAQ_KEY_ENV, "").strip():
        settings.nasdaq.api_key = env[NASDAQ_KEY_ENV].strip()
    if env.get(FINNHUB_KEY_ENV, "").strip():
        settings.news.api_key = env[FINNHUB_KEY_ENV].strip()
    return settings


_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand_push(
    urls: list[str], env: typing.Mapping[str, str], text: str, path: Path | None
) -> list[str]:
    """`[alerts] push` with each `${NAME}` replaced by the environment's NAME.

    Raises:
        ConfigError: naming the file, key and line, and the variable (never its URL) when it is
            not set or empty.
    """
    out = []
    for url in urls:
        for name in _VARIABLE.findall(url):
            if not env.get(name, ""):
                raise ConfigError(
                    path,
                    f"${{{name}}} is used in a push URL but not set in the environment "
                    f"(export {name}=... before starting momoscan)",
                    key="[alerts] push",
                    line=_find_line(text, "alerts", "push"),
                )
        out.append(_VARIABLE.sub(lambda m: env[m.group(1)], url).strip())
    return out


def field_docs() -> dict[str, dict[str, str]]:
    """Each section's keys and their one-line descriptions, read from this module's source.

    The test of config.toml.example uses this to prove the example documents every key.
    """
    return {section: _class_docs(cls) for section, cls in SECTIONS.items()}


def rule_docs() -> dict[str, str]:
    """Each `[[alerts.rules]]` key and its one-line description."""
    return _class_docs(AlertRule)


def _class_docs(cls: type[Any]) -> dict[str, str]:
    import inspect

    source = inspect.getsource(cls)
    found = re.findall(r"^\s+(\w+): [^\n]+\n\s+\"\"\"(.+?)\"\"\"", source, re.M | re.S)
    return {name: " ".join(doc.split()) for name, doc in found}


EXAMPLE_HEADER = """\
# momoscan configuration. Copy to ~/.config/momoscan/config.toml (Linux; see the README for
# macOS and Windows), or point --config or $MOMOSCAN_CONFIG at it. Every key is optional: each
# line below shows the default. Uncomment what you change. A key momoscan does not know, or a
# value of the wrong type, stops it with a message naming the file, key and line (exit code 2).
#
# API keys may instead come from TWELVEDATA_API_KEY, NASDAQ_DATA_LINK_API_KEY and
# FINNHUB_API_KEY, which win over this file. Without a Twelve Data key momoscan runs on its
# simulated market.
"""


#: What config.toml.example suggests for a setting that is unset by default.
UNSET_EXAMPLES = {("scan", "max_float"): "20_000_000", ("scan", "min_float"): "1_000_000"}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | list):
        import json

        return json.dumps(value)
    return repr(value)


def example_toml() -> str:
    """config.toml.example: every key, commented out, with its default and what it does.

    Regenerate the file after adding a setting:
    `python -c "from momoscan.config import example_toml; print(example_toml(), end='')" \
    > config.toml.example` (a test fails until you do).
    """
    defaults = Settings()
    lines = [EXAMPLE_HEADER]
    for section, keys in field_docs().items():
        lines.append(f"[{section}]")
        for key, doc in keys.items():
            lines.append(f"# {doc}")
            value = getattr(getattr(defaults, section), key)
            if value is None:
                # Unset by default, and TOML has no null: an example value to set it to.
                example = UNSET_EXAMPLES.get((section, key), "1")
                lines.append(f"# {key} = {example}  # unset by default")
                continue
            lines.append(f"# {key} = {_toml_value(value)}")
            if (section, key) == ("alerts", "rules"):
                lines.extend(_rules_example())
        lines.append("")
    return "\n".join(lines)


def _rules_example() -> list[str]:
    """What config.toml.example shows of [[alerts.rules]]: two rules, then every key."""
    return [
        "#",
        "#   [[alerts.rules]]",
        '#   name = "NVDA breakout"',
        '#   symbol = "NVDA"',
        "#   price_above = 200.0",
        "#",
        "#   [[alerts.rules]]",
        '#   name = "Runner"',
        "#   pct_above = 20.0",
        "#   rvol_above = 5.0",
        "#",
        "# A rule's keys (conditions must all hold at once; at least one is needed):",
        *(f"#   {key}: {doc}" for key, doc in _class_docs(AlertRule).items()),
    ]


_ = types  # keep the import for eval of string annotations in SECTIONS
