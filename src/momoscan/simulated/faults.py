"""Faults the real providers serve, for the simulated market to serve too.

A `FaultPlan` gives each fault a rate in [0, 1]; `SimServer` draws against it per request (or per
symbol, or per report day, as each fault says), reproducibly: every draw comes from a
`random.Random` keyed on the plan's seed, the market's seed, the request's URL, the simulated
minute and how many times that URL was asked that minute (so a retry draws afresh, and a test run
gives the same answers every time). `FaultPlan.parse("all")` sets every fault to its default
rate: a fifth to a quarter of each provider's requests then go wrong (429 bursts included).

Each fault below: its name, default rate, what is sent, and the wire fact it imitates (section
numbers are of the team's research notes, reference/market-data-apis.md).

Twelve Data (/quote and /api_usage; a request with no valid key gets no fault):
    td_5xx (0.05): HTTP 502 with Cloudflare's "Bad gateway" HTML page, 503 with an empty body,
        or 520 with "error code: 520"; no credits charged. Gateway failures (502/520) come with
        non-JSON bodies (twelvedata-python issue #26, section 1.5); the page texts are
        imitations of Cloudflare's, not recordings.
    td_429 (0.03, then 2-4 more in a row): HTTP 200 with the in-body envelope {"code": 429,
        "message": "You have run out of API credits for the current minute. N API credits were
        used, with the current limit being L. Wait for the next minute ...", "status": "error"}
        and credit headers saying none are left, as when another client spends the same key's
        credits (fixtures error_429_*.json, sections 1.4-1.5). /quote only; nothing charged.
    td_trickle (0.03): the answer's body a few bytes at a time with a pause between pieces
        (`trickle_delay`, 0.5 s) for `trickle_seconds` (40 s) in all: every pause is shorter
        than a read timeout, so only a timeout on the whole request bounds it (httpx's timeouts
        are per network operation; STYLE.md 19).
    td_html (0.03): HTTP 200 with an HTML maintenance page where JSON was expected (non-JSON
        bodies, issue #26; the page is an imitation).
    td_truncated (0.03): HTTP 200 with the JSON cut off part way (credits charged).
    td_stale (0.02 of the symbols, each for a whole simulated day): a halted stock's quote:
        `datetime`, `timestamp` (the daily bar's open) and `last_quote_at` (its last minute
        candle) from a session 2-6 trading days back, with that day's prices, volume and
        percent_change, and `is_market_open` as the exchange is now (section 1.2, TD-OAS /quote).
    td_symbol_error (0.02 of the symbols of a batch): the symbol's value in the batch is the
        per-symbol error envelope (code 400, "**symbol** not found: ...", `meta.symbol` echoing
        the whole list) while the others are quoted (section 1.3; fixture
        batch_quote_all_symbols_not_found_soulgarden.json). Unknown symbols always get it.
    td_hostile_name (0.02 of the symbols, each for good): the company's name carries terminal
        escape sequences: an OSC 8 link around it, and some of OSC 52 (writes the clipboard),
        OSC 0 (sets the window title), `ESC[2J` (clears the screen), an 8-bit CSI and a bidi
        override, in its /quote answers and in the simulated universe's listing alike. Not a
        recorded answer: issue 24 saw such names in a feed. Cleaned where parsed
        (`momoscan.sanitize`), the name reads as the company's own.

Cboe delayed quotes (a name Cboe would refuse anyway gets no fault):
    cboe_5xx (0.04): HTTP 502, 503 or 504 with CloudFront's "ERROR: The request could not be
        satisfied" HTML page (the CDN fronts S3, whose AccessDenied XML it serves for unknown
        names, section 3.1; that CloudFront is the CDN is an assumption).
    cboe_403 (0.03): S3's AccessDenied XML with HTTP 403 for a name that does have options, as
        the CDN answers requests it refuses.
    cboe_html (0.03): HTTP 200 with an HTML page instead of the JSON.
    cboe_truncated (0.03): the chain's JSON cut off part way.
    cboe_trickle (0.03): the chain trickled, as td_trickle.
    cboe_stale (0.05): the previous session's chain: top-level `timestamp` of that evening
        (the recorded CLX chain says "2026-07-25 00:43:14" UTC after a 16:00 ET close on
        07-24), `last_trade_time`s, volumes and underlying of that session, which is what Cboe
        serves from 04:00 to 09:30 ET (section 3.1; fixture options_CLX_full_openbb.json).

OCC volume query (only for a trading day it has published; the others get OCC's plain-text
answers whatever the plan):
    occ_5xx (0.04): HTTP 500, 502 or 503 with a short HTML page or an empty body.
    occ_html (0.05 of the report days, each for a whole simulated day): HTTP 200 with a
        225-byte HTML maintenance page.
    occ_no_record (0.03): "No record(s) found", OCC's answer for a day without trading (public
        OCC client code treats that exact body as "no data"), here for a day that has a file.
    occ_late (0.03): "Report date cannot be greater than MM/DD/YYYY", OCC's answer for a day not
        published yet, naming the trading day before: the day's file is late.
    occ_too_old (0.02): "Report date cannot be prior to 2 years", OCC's answer outside its
        two-year window (section 3.3 "~2-year history cap"; public client code matches "report
        date cannot be prior").
    occ_truncated (0.03): the CSV cut off in the middle of a row.
    occ_comma (0.3 of the files): every row (not the header) ends with a comma, an empty 8th
        field after actdate, as public parsers' recorded rows do ("4000000,NVDA,NVDA,C,C,CBOE,
        06/26/2026,").
    occ_crlf (0.3 of the files): CRLF line endings.

Twelve Data's price stream (the simulated WebSocket server, stream_server.py):
    ws_drop (0.01 a second, per connection: one about every 100 s): the connection is cut
        without a close frame, as a dropped network path is; the client must reconnect and
        resubscribe on its own.
    ws_garbage (0.005 of the events): a price event cut off mid-JSON.
    ws_stall (0.01 a second, per connection): the connection goes silent and stays open: no
        prices, no heartbeat replies, no statuses, as when a NAT or proxy forgets the flow or
        the server stalls (twelvedata-python #45, alpaca-trade-api-js #173, Finnhub-API #517);
        only the client's own deadline notices.
    ws_wrong_listing (0.02 of the symbols, per connection): the symbol's prices come from its
        other listing (Toronto: exchange TSX, mic_code XTSE, currency CAD, the price in CAD), as
        a dual-listed name resolved to another exchange (twelvedata-python #68).

Nasdaq Trader's halts feed and Rule 201 list (section numbers of reference/public-feeds.md;
at most one of the halts faults a request; the shapes are those the feed's users report, no
fault was recorded):
    halts_empty (0.03): a channel with no items at all, numItems 0, as on a weekend (1.1).
    halts_malformed (0.05): one item's HaltTime empty or garbage ("99:61:00", "n/a"), or an
        item with every field empty when there is none.
    halts_prev_day (0.03): today's items dated the trading day before (HaltDate, the item
        pubDate and ResumptionDate).
    halts_repeat (0.05): one item twice, the same halt (1.3: deduplicate on symbol, date and
        time).
    halts_stale (0.03): the feed as it was 30 minutes ago: its channel pubDate then and no item
        since (a feed stuck behind a cache).
    ssr_html (0.1): HTTP 200 with a web page instead of the day's shorthalts file (section 2:
        "200 + HTML trap").

SEC EDGAR, the ticker map and the current-filings feed (simulated/sec.py; section 3 of
reference/public-feeds.md; at most one of these a request; a request with no User-Agent, or a
library's default one, is refused with the 403 page whatever the plan, as the SEC does):
    sec_no_ua (0.02): HTTP 403 with the SEC's "declare your traffic" HTML page (Reference ID
        included) to a declared User-Agent too, as when the edge refuses a contact it does not
        accept (3.1: the page's wording is the SEC's; that a declared agent gets it is an
        imitation, one crate's unconfirmed report of noreply@ addresses).
    sec_429 (0.02): HTTP 429 with Retry-After 600 and an HTML page (3.1: some clients report
        429; unconfirmed).
    sec_503 (0.03): HTTP 503 with the "SEC.gov | File Unavailable" page from AkamaiNetStorage
        (recorded for a page of the feed too deep; here for any request).
    sec_truncated (0.1): the ticker map's JSON cut off part way (the feed is never cut).

SEC company facts (simulated/facts.py; section 3.5; the sec_no_ua, sec_429 and sec_503
faults above answer these requests too, drawn with facts_truncated):
    facts_truncated (0.05): a company's facts JSON cut off part way (3.7 MB answers; the
        reader must fail that company only).
    facts_no_shares (0.05 of the companies, each for good): the company's facts hold no dei
        concepts (no shares outstanding, no public float), as small and foreign filers' do.

FINRA's files (simulated/finra.py; section 4):
    finra_403 (0.3): the short interest file answers 403 with S3's AccessDenied XML, FINRA's
        answer for a file not published.
    finra_404 (0.3): the daily short volume file answers 404, as on a day without one.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import anyio
import httpx

from .. import market_hours as mh


@dataclass(frozen=True, slots=True)
class _Kind:
    provider: str
    default: float
    per: str  # what one draw decides: a "request", a "symbol", a report "day" or a "file"


#: Every fault, by name, in the order of the plan's fields.
FAULTS: dict[str, _Kind] = {
    "td_5xx": _Kind("td", 0.05, "request"),
    "td_429": _Kind("td", 0.03, "request"),
    "td_trickle": _Kind("td", 0.03, "request"),
    "td_html": _Kind("td", 0.03, "request"),
    "td_truncated": _Kind("td", 0.03, "request"),
    "td_stale": _Kind("td", 0.02, "symbol"),
    "td_symbol_error": _Kind("td", 0.02, "symbol"),
    "td_hostile_name": _Kind("td", 0.02, "symbol"),
    "cboe_5xx": _Kind("cboe", 0.04, "request"),
    "cboe_403": _Kind("cboe", 0.03, "request"),
    "cboe_html": _Kind("cboe", 0.03, "request"),
    "cboe_truncated": _Kind("cboe", 0.03, "request"),
    "cboe_trickle": _Kind("cboe", 0.03, "request"),
    "cboe_stale": _Kind("cboe", 0.05, "request"),
    "occ_5xx": _Kind("occ", 0.04, "request"),
    "occ_html": _Kind("occ", 0.05, "day"),
    "occ_no_record": _Kind("occ", 0.03, "request"),
    "occ_late": _Kind("occ", 0.03, "request"),
    "occ_too_old": _Kind("occ", 0.02, "request"),
    "occ_truncated": _Kind("occ", 0.03, "request"),
    "occ_comma": _Kind("occ", 0.3, "file"),
    "occ_crlf": _Kind("occ", 0.3, "file"),
    "ws_drop": _Kind("ws", 0.01, "second"),
    "ws_garbage": _Kind("ws", 0.005, "event"),
    "ws_stall": _Kind("ws", 0.01, "second"),
    "ws_wrong_listing": _Kind("ws", 0.02, "symbol"),
    "halts_empty": _Kind("halts", 0.03, "request"),
    "halts_malformed": _Kind("halts", 0.05, "request"),
    "halts_prev_day": _Kind("halts", 0.03, "request"),
    "halts_repeat": _Kind("halts", 0.05, "request"),
    "halts_stale": _Kind("halts", 0.03, "request"),
    "ssr_html": _Kind("ssr", 0.1, "request"),
    "sec_no_ua": _Kind("sec", 0.02, "request"),
    "sec_429": _Kind("sec", 0.02, "request"),
    "sec_503": _Kind("sec", 0.03, "request"),
    "sec_truncated": _Kind("sec", 0.1, "request"),
    "facts_truncated": _Kind("facts", 0.05, "request"),
    "facts_no_shares": _Kind("facts", 0.05, "symbol"),
    "finra_403": _Kind("finra", 0.3, "request"),
    "finra_404": _Kind("finra", 0.3, "request"),
}
#: Names that stand for a fault too.
ALIASES = {"stale_quotes": "td_stale", "stale_chains": "cboe_stale"}
#: Names that stand for several faults: every one, or one provider's.
GROUPS = {
    "all": tuple(FAULTS),
    **{
        p: tuple(n for n, k in FAULTS.items() if k.provider == p)
        for p in ("td", "cboe", "occ", "ws", "halts", "ssr", "sec", "facts", "finra")
    },
}
_OPTIONS = ("seed", "trickle_delay", "trickle_seconds")

#: The request-level faults of each provider, drawn together: at most one per request.
TD_REQUEST = ("td_5xx", "td_429", "td_html", "td_truncated", "td_trickle")
CBOE_REQUEST = (
    "cboe_5xx",
    "cboe_403",
    "cboe_html",
    "cboe_truncated",
    "cboe_trickle",
    "cboe_stale",
)
OCC_REQUEST = ("occ_5xx", "occ_no_record", "occ_late", "occ_too_old", "occ_truncated")
HALTS_REQUEST = ("halts_empty", "halts_malformed", "halts_prev_day", "halts_repeat", "halts_stale")
SEC_REQUEST = ("sec_no_ua", "sec_429", "sec_503", "sec_truncated")
FACTS_REQUEST = ("sec_no_ua", "sec_429", "sec_503", "facts_truncated")


def _valid_names() -> str:
    return ", ".join([*GROUPS, "none", *FAULTS, *ALIASES, *(f"{o}=N" for o in _OPTIONS)])


@dataclass(frozen=True, slots=True)
class Trickle:
    """How a body is sent slowly: `chunk` bytes at a time, `pauses` pauses of `delay` seconds
    between the pieces, then the rest at once."""

    chunk: int
    delay: float
    pauses: int

    @property
    def seconds(self) -> float:
        return self.delay * self.pauses


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """How often the simulated market answers as the real providers do when things go wrong.

    Each fault field is a rate in [0, 1] (see the module docstring for what each sends). When a
    provider's request-level rates add up to more than 1, they share its requests in
    proportion. Picklable, so a market in a process of its own gets the same plan.

    Attributes:
        seed: with the market's seed, keys every draw (same seeds, same faults).
        trickle_delay: seconds between the pieces of a trickled body.
        trickle_seconds: how long a trickled body takes in all.
    """

    td_5xx: float = 0.0
    td_429: float = 0.0
    td_trickle: float = 0.0
    td_html: float = 0.0
    td_truncated: float = 0.0
    td_stale: float = 0.0
    td_symbol_error: float = 0.0
    td_hostile_name: float = 0.0
    cboe_5xx: float = 0.0
    cboe_403: float = 0.0
    cboe_html: float = 0.0
    cboe_truncated: float = 0.0
    cboe_trickle: float = 0.0
    cboe_stale: float = 0.0
    occ_5xx: float = 0.0
    occ_html: float = 0.0
    occ_no_record: float = 0.0
    occ_late: float = 0.0
    occ_too_old: float = 0.0
    occ_truncated: float = 0.0
    occ_comma: float = 0.0
    occ_crlf: float = 0.0
    ws_drop: float = 0.0
    ws_garbage: float = 0.0
    ws_stall: float = 0.0
    ws_wrong_listing: float = 0.0
    halts_empty: float = 0.0
    halts_malformed: float = 0.0
    halts_prev_day: float = 0.0
    halts_repeat: float = 0.0
    halts_stale: float = 0.0
    ssr_html: float = 0.0
    sec_no_ua: float = 0.0
    sec_429: float = 0.0
    sec_503: float = 0.0
    sec_truncated: float = 0.0
    facts_truncated: float = 0.0
    facts_no_shares: float = 0.0
    finra_403: float = 0.0
    finra_404: float = 0.0
    seed: int = 0
    trickle_delay: float = 0.5
    trickle_seconds: float = 40.0

    def __post_init__(self) -> None:
        for name in FAULTS:
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"The fault rate {name}={rate} is not between 0 and 1.")
        if self.trickle_delay <= 0 or self.trickle_seconds <= 0:
            raise ValueError("trickle_delay and trickle_seconds must be more than 0 seconds.")

    @classmethod
    def parse(cls, spec: str, *, seed: int = 0) -> FaultPlan:
        """A plan from a spec such as "all", "none", "occ" or "td_5xx=0.2,occ_html=0.5,td_stale".

        Items are separated by commas and applied in order: a fault or group name alone takes
        the default rates, `name=rate` sets a rate (a group's every fault to it), "none" turns
        every fault off, and `seed=N`, `trickle_delay=S`, `trickle_seconds=S` set the options.

        Raises:
            ValueError: an item is not a known name or its value is not a valid number.
        """
        rates: dict[str, float] = {}
        options: dict[str, float] = {"seed": seed}
        for raw in spec.split(","):
            item = raw.strip()
            if not item:
                continue
            name, has_value, text = (part.strip() for part in item.partition("="))
            name = ALIASES.get(name.lower(), name.lower())
            if name in _OPTIONS:
                if not has_value:
                    raise ValueError(
                        f"The demo fault option {item!r} needs a value ({name}=N); "
                        f"valid names are {_valid_names()}."
                    )
                option = _number(item, text, name)
                if name == "seed" and not option.is_integer():
                    raise ValueError(
                        f"The demo fault option {item!r} needs a whole number; "
                        f"valid names are {_valid_names()}."
                    )
                if name != "seed" and option <= 0:
                    raise ValueError(
                        f"The demo fault option {item!r} needs a number of seconds above 0; "
                        f"valid names are {_valid_names()}."
                    )
                options[name] = option
                continue
            if name == "none" and not has_value:
                rates = {n: 0.0 for n in FAULTS}
                continue
            names = GROUPS.get(name) or ((name,) if name in FAULTS else ())
            if not names:
                raise ValueError(f"Unknown demo fault {item!r}; valid names are {_valid_names()}.")
            rate = _number(item, text, name) if has_value else None
            if rate is not None and not 0.0 <= rate <= 1.0:
                raise ValueError(
                    f"The demo fault {item!r} needs a rate from 0 to 1 (like {name}=0.2); "
                    f"valid names are {_valid_names()}."
                )
            for n in names:
                rates[n] = FAULTS[n].default if rate is None else rate
        return cls(
            **rates,
            seed=int(options["seed"]),
            trickle_delay=options.get("trickle_delay", 0.5),
            trickle_seconds=options.get("trickle_seconds", 40.0),
        )

    @classmethod
    def all(cls, *, seed: int = 0) -> FaultPlan:
        """Every fault at its default rate."""
        return cls(seed=seed, **{name: kind.default for name, kind in FAULTS.items()})

    @staticmethod
    def names() -> tuple[str, ...]:
        return tuple(FAULTS)

    def rate(self, name: str) -> float:
        value: float = getattr(self, ALIASES.get(name, name))
        return value

    def rates(self) -> dict[str, float]:
        """The faults this plan injects, with their rates."""
        return {name: r for name in FAULTS if (r := self.rate(name)) > 0}

    @property
    def active(self) -> bool:
        return bool(self.rates())

    def trickle(self) -> Trickle:
        pauses = max(1, round(self.trickle_seconds / self.trickle_delay))
        return Trickle(chunk=16, delay=self.trickle_delay, pauses=pauses)

    def pick(self, kinds: Sequence[str], u: float) -> str | None:
        """The one fault of `kinds` (or none) that a uniform draw `u` in [0, 1) falls on."""
        rates = [self.rate(k) for k in kinds]
        total = sum(rates)
        scale = 1.0 / total if total > 1.0 else 1.0
        edge = 0.0
        for kind, rate in zip(kinds, rates, strict=True):
            edge += rate * scale
            if u < edge:
                return kind
        return None

    def describe(self) -> str:
        """A short summary for a status line: "no faults", "all faults at default rates" or
        the rates, like "td_5xx 20%, occ_html 50%"."""
        rates = self.rates()
        if not rates:
            return "no faults"
        defaults = {name: kind.default for name, kind in FAULTS.items()}
        if rates == defaults:
            text = "all faults at default rates"
        else:
            text = ", ".join(f"{name} {rate * 100:g}%" for name, rate in rates.items())
        return text if self.seed == 0 else f"{text} (seed {self.seed})"

    def __str__(self) -> str:
        return self.describe()


def _number(item: str, text: str, name: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(
            f"The demo fault {item!r} needs a number after '=' (like {name}=0.2); "
            f"valid names are {_valid_names()}."
        ) from None


class FaultDice:
    """A plan's draws, reproducible for a seed, and the count of faults injected.

    Thread-safe: the in-process market answers from worker threads.
    """

    def __init__(self, plan: FaultPlan, salt: int):
        self.plan = plan
        self._salt = f"{plan.seed}:{salt}"
        self._lock = threading.Lock()
        self._minute = ""
        self._attempts: dict[str, int] = {}
        self._burst = 0
        self.injected: Counter[str] = Counter()

    def request(self, what: str, minute: str) -> random.Random:
        """The draws for one request of `what` (a URL) in the simulated `minute`: the same for
        the same seed, URL, minute and how many times that URL was asked that minute."""
        with self._lock:
            if minute != self._minute:
                self._minute = minute
                self._attempts.clear()
            attempt = self._attempts.get(what, 0)
            self._attempts[what] = attempt + 1
        return random.Random(f"{self._salt}|{what}|{minute}|{attempt}")

    def unit(self, *key: object) -> float:
        """A uniform number in [0, 1) fixed by `key` (for faults that last, like a halt)."""
        text = "|".join([self._salt, *map(str, key)]).encode()
        return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big") / 2.0**64

    def sticky(self, *key: object) -> random.Random:
        return random.Random("|".join([self._salt, *map(str, key)]))

    def start_burst(self, more: int) -> None:
        with self._lock:
            self._burst = more

    def take_burst(self) -> bool:
        """Whether a burst of 429s is under way (and take one answer of it)."""
        with self._lock:
            if self._burst <= 0:
                return False
            self._burst -= 1
            return True

    def count(self, kind: str, n: int = 1) -> None:
        if n:
            with self._lock:
                self.injected[kind] += n


# -- the bodies ------------------------------------------------------------------------------

Answer = tuple[int, dict[str, str], bytes]

_HTML = {"content-type": "text/html; charset=UTF-8"}
_TEXT = {"content-type": "text/plain; charset=UTF-8"}


def _ray(rng: random.Random) -> str:
    return f"{rng.getrandbits(64):016x}"


def twelvedata_gateway_error(rng: random.Random) -> Answer:
    """What Twelve Data's gateway (Cloudflare) answers when the API behind it fails."""
    status = rng.choice((502, 503, 520))
    if status == 503:
        return 503, {}, b""
    if status == 520:
        return 520, dict(_TEXT), b"error code: 520"
    page = (
        '<!DOCTYPE html>\n<html lang="en-US"><head><title>api.twelvedata.com | 502: Bad '
        "gateway</title></head>\n<body><h1>Bad gateway <span>Error code 502</span></h1>\n"
        "<p>The web server reported a bad gateway error.</p>\n"
        f"<p>Cloudflare Ray ID: <strong>{_ray(rng)}</strong></p></body></html>\n"
    )
    return 502, dict(_HTML), page.encode()


def twelvedata_maintenance() -> Answer:
    page = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Twelve Data | Maintenance'
        "</title></head>\n<body><h1>We&rsquo;ll be back soon</h1>\n<p>Twelve Data is "
        "undergoing scheduled maintenance. Please try again in a few minutes.</p></body>"
        "</html>\n"
    )
    return 200, dict(_HTML), page.encode()


def out_of_credits(used: int, limit: int) -> dict[str, object]:
    """Twelve Data's in-body 429 envelope (sent with HTTP 200)."""
    return {
        "code": 429,
        "message": (
            f"You have run out of API credits for the current minute. {used} API credits were "
            f"used, with the current limit being {limit}. Wait for the next minute or consider "
            "switching to a higher tier plan at https://twelvedata.com/pricing"
        ),
        "status": "error",
    }


def cloudfront_error(rng: random.Random) -> Answer:
    """A CDN's error page for Cboe's delayed quotes (502, 503 or 504)."""
    status = rng.choice((502, 503, 504))
    title = {502: "502 Bad Gateway", 503: "503 Service Unavailable", 504: "504 Gateway Timeout"}
    page = (
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" '
        '"http://www.w3.org/TR/html4/loose.dtd">\n<HTML><HEAD><META HTTP-EQUIV="Content-Type" '
        'CONTENT="text/html; charset=iso-8859-1">\n<TITLE>ERROR: The request could not be '
        f"satisfied</TITLE>\n</HEAD><BODY>\n<H1>{title[status]} ERROR</H1>\n<H2>The request "
        'could not be satisfied.</H2>\n<HR noshade size="1px">\nWe can\'t connect to the '
        'server for this app or website at this time.\n<BR clear="all">\n<HR noshade '
        'size="1px">\n<PRE>\nGenerated by cloudfront (CloudFront)\nRequest ID: '
        f"{_ray(rng)}{_ray(rng)}\n</PRE>\n</BODY></HTML>"
    )
    return status, {"content-type": "text/html"}, page.encode("latin-1")


def access_denied() -> Answer:
    """S3's refusal, which Cboe's CDN sends for a name it does not serve."""
    return (
        403,
        {"content-type": "application/xml"},
        b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
        b"<Message>Access Denied</Message></Error>",
    )


def cboe_page() -> Answer:
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Cboe Global '
        "Markets | Site Maintenance</title></head>\n<body><main><h1>We are performing "
        "scheduled maintenance</h1>\n<p>Delayed quotes will be available again shortly. We "
        "apologize for any inconvenience.</p></main></body></html>\n"
    )
    return 200, dict(_HTML), page.encode()


OCC_NO_RECORD = b"No record(s) found"
OCC_TOO_OLD = b"Report date cannot be prior to 2 years"


def occ_not_yet(latest: date) -> bytes:
    """OCC's answer for a report date after the newest it has published."""
    return f"Report date cannot be greater than {latest:%m/%d/%Y}".encode()


def occ_maintenance() -> Answer:
    """OCC's small maintenance page (225 bytes)."""
    page = (
        "<html><head><title>OCC Market Data - Maintenance</title></head><body>"
        "<h2>Site Maintenance</h2><p>This application is currently unavailable due to "
        "scheduled system maintenance. Please try again later.</p><hr>\r\n</body></html>\r\n"
    )
    return 200, dict(_HTML), page.encode()


def occ_server_error(rng: random.Random) -> Answer:
    status = rng.choice((500, 502, 503))
    if rng.random() < 0.5:
        return status, {}, b""
    reason = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
    page = f"<html><head><title>{status} {reason[status]}</title></head><body><center><h1>"
    page += f"{status} {reason[status]}</h1></center></body></html>\n"
    return status, dict(_HTML), page.encode()


def truncate(body: bytes, rng: random.Random) -> bytes:
    """`body` cut off somewhere between a third and nine tenths of the way."""
    if len(body) < 2:
        return b""
    return body[: max(1, min(len(body) - 1, int(len(body) * rng.uniform(0.33, 0.9))))]


def truncate_rows(body: bytes, rng: random.Random) -> bytes:
    """A CSV cut off in the middle of a row (after its header)."""
    start = body.find(b"\n") + 1
    if start <= 0 or len(body) - start < 8:
        return truncate(body, rng)
    cut = start + 3 + int((len(body) - start - 6) * rng.uniform(0.3, 0.9))
    while cut > start + 2 and (body[cut - 1] in b"\r\n" or body[cut] in b"\r\n"):
        cut -= 1
    return body[:cut]


def csv_variant(body: bytes, *, comma: bool, crlf: bool) -> bytes:
    """OCC's CSV with a comma after each row's last field and/or CRLF line endings."""
    if not comma and not crlf:
        return body
    lines = body.split(b"\n")
    if comma:
        lines[1:] = [line + b"," if line else line for line in lines[1:]]
    return (b"\r\n" if crlf else b"\n").join(lines)


#: What `hostile_name` may add to a name, besides the OSC 8 link it always puts around it:
#: OSC 52 (a clipboard write, "momoscan fault" in base64), OSC 0 (a window title), a screen
#: clear, an 8-bit CSI (U+009B) and a right-to-left override.
HOSTILE_EXTRAS: tuple[str, ...] = (
    "\x1b]52;c;bW9tb3NjYW4gZmF1bHQ=\x07",
    "\x1b]0;momoscan fault\x07",
    "\x1b[2J\x1b[H",
    "\x9b7m",
    "\u202e",
)


def hostile_name(name: str, rng: random.Random) -> str:
    """`name` as a hostile feed could send it (the `td_hostile_name` fault): inside an OSC 8
    link, with one to three of `HOSTILE_EXTRAS` before it. Every added piece is a whole
    sequence or control, so `sanitize.clean` gives back `name` exactly."""
    extras = "".join(rng.sample(HOSTILE_EXTRAS, rng.randint(1, 3)))
    return f"{extras}\x1b]8;;https://example.invalid/\x1b\\{name}\x1b]8;;\x1b\\"


def _fmt(value: float) -> str:
    return f"{value:.5f}"


def stale_quote(
    quote: dict[str, object], *, last_close: float, today: date, rng: random.Random
) -> dict[str, object]:
    """`quote` as Twelve Data sends it for a stock halted some sessions before `today`: the bar
    of its last trading day, which ended at `last_close`. Only `is_market_open` is of now."""
    day = today
    for _ in range(rng.randint(2, 6)):
        day = mh.previous_trading_day(day)
    _, open_at, close_at, _ = mh.session_bounds(day)
    session = int((close_at - open_at).total_seconds() // 60)
    halted_at = open_at + timedelta(minutes=rng.randint(15, session - 5))
    # Halts follow news: the day's move is a big one, either way.
    move = rng.choice((-1.0, 1.0)) * rng.uniform(0.08, 0.45)
    close = last_close
    previous = close / (1.0 + move)
    opened = previous * (1.0 + rng.uniform(-0.04, 0.04))
    high = max(opened, close) * (1.0 + rng.uniform(0.0, 0.06))
    low = min(opened, close) * (1.0 - rng.uniform(0.0, 0.06))
    try:
        average = float(str(quote.get("average_volume") or 0))
    except ValueError:
        average = 0.0
    volume = int(max(average, 50_000.0) * rng.uniform(1.5, 8.0))
    out = dict(quote)
    out.update(
        datetime=day.isoformat(),
        timestamp=int(open_at.timestamp()),
        last_quote_at=int(halted_at.timestamp()),
        open=_fmt(opened),
        high=_fmt(high),
        low=_fmt(low),
        close=_fmt(close),
        volume=str(volume),
        previous_close=_fmt(previous),
        change=_fmt(close - previous),
        percent_change=_fmt((close - previous) / previous * 100.0),
    )
    week = quote.get("fifty_two_week")
    if isinstance(week, dict):
        low52 = min(float(week["low"]), low)
        high52 = max(float(week["high"]), high)
        out["fifty_two_week"] = {
            "low": _fmt(low52),
            "high": _fmt(high52),
            "low_change": _fmt(close - low52),
            "high_change": _fmt(close - high52),
            "low_change_percent": _fmt((close - low52) / low52 * 100),
            "high_change_percent": _fmt((close - high52) / high52 * 100),
            "range": f"{low52:.6f} - {high52:.6f}",
        }
    return out


# -- trickling, on the app's side of the transport -------------------------------------------


class TrickleStream(httpx.AsyncByteStream):
    """A response body that arrives a few bytes at a time, with a pause between the pieces."""

    def __init__(self, body: bytes, trickle: Trickle):
        self._body = body
        self._trickle = trickle

    async def __aiter__(self) -> AsyncIterator[bytes]:
        body, plan = self._body, self._trickle
        # Small bodies come in smaller pieces, so that every pause is taken.
        size = max(1, min(plan.chunk, len(body) // (plan.pauses + 1)))
        position = 0
        for _ in range(plan.pauses):
            if position >= len(body):
                return
            yield body[position : position + size]
            position += size
            await anyio.sleep(plan.delay)
        if position < len(body):
            yield body[position:]
