"""SEC EDGAR in the simulated market: the ticker map and the current-filings Atom feed of the
simulated day, in their wire formats (see `momoscan.sources.sec`; public-feeds.md §3).

- The ticker map (`company_tickers_exchange.json`) lists every simulated stock with a CIK
  fixed by the seed and the symbol, its name upper-cased as the SEC writes most, and its
  venue ("Nasdaq", "NYSE", "CBOE"); a couple of companies have a second share class (`-B`, on
  "OTC" or a null exchange), and some companies outside the universe are listed too.
- The day's filings (`filings_of`), fixed by the seed and the day:
  - an 8-K (2.02, 8.01, 7.01 or 1.01, with 9.01) a few minutes before SOME of the day's
    stories (most news jumps and gappers, a third of the runners, some fallers; never all:
    a scanner must not learn that every filing runs), and always before the day's first
    news story, which the demo shows in its first minutes (accepted at 09:59 for the 10:02
    story);
  - background filings on names that do not move: 10-Qs, 8-Ks (results and news among them),
    Form 4 clusters (several insiders on one company in a day), single Form 4s, a Schedule
    13G/A, an S-1; a 424B5 on a false start at its top (an offering, and the pop fades);
  - filings of companies outside the universe (a name with " - " in it, one with Latin-1
    letters), which the app must leave out.
- The feed: one entry per entity per accession (a Form 4's Reporting owner and Issuer, a
  13G's Subject and Filed by), newest first, the summary's HTML escaped, ISO-8859-1 bytes,
  `count` (at most 100) and `start` honoured, the current and the previous weekday's filings;
  `start` beyond 5,000 answers 503 with an HTML page, as EDGAR did when recorded.
- A request without a User-Agent, or with a library's default one, gets 403 with the
  "declare your traffic" page, always (the SEC's rule; public-feeds.md §3.1).

`planted_filings` tells benches which filings came before which stories (never the engine).
"""

from __future__ import annotations

import json
import random
import threading
import weakref
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from xml.sax.saxutils import escape

import httpx

from .. import market_hours as mh
from .faults import Answer
from .halts import OPENER_NEWS_MINUTE
from .market import FALLER, FALSE_START, GAPPER, NEWS, RUNNER, SimMarket

#: EDGAR's accepting hours as simulated (it accepts 06:00-22:00 ET; the app polls to 20:00).
EDGAR_OPENS = time(6, 0)
EDGAR_CLOSES = time(20, 0)
#: The deepest `start` EDGAR served when recorded (5,100 answered 503).
DEEPEST_START = 5000
#: How often a story of each kind gets an 8-K a few minutes before it.
CATALYST_CHANCE = {NEWS: 0.65, GAPPER: 0.6, RUNNER: 0.3, FALLER: 0.4}
#: Item sets of a catalyst 8-K, up and down.
_UP_ITEMS = (("2.02", "9.01"), ("8.01", "9.01"), ("7.01", "9.01"), ("1.01", "9.01"), ("8.01",))
_DOWN_ITEMS = (("2.02", "9.01"), ("8.01", "9.01"), ("3.01", "9.01"), ("1.01", "3.02", "9.01"))
_QUIET_8K = (("2.02", "9.01"), ("8.01", "9.01"), ("7.01", "9.01"), ("5.02",), ("5.07",))
_ITEM_TITLES = {
    "1.01": "Entry into a Material Definitive Agreement",
    "2.02": "Results of Operations and Financial Condition",
    "3.01": "Notice of Delisting or Failure to Satisfy a Continued Listing Rule or Standard; "
    "Transfer of Listing",
    "3.02": "Unregistered Sales of Equity Securities",
    "5.02": "Departure of Directors or Certain Officers; Election of Directors; Appointment of "
    "Certain Officers: Compensatory Arrangements of Certain Officers",
    "5.07": "Submission of Matters to a Vote of Security Holders",
    "7.01": "Regulation FD Disclosure",
    "8.01": "Other Events",
    "9.01": "Financial Statements and Exhibits",
}
_VENUES = {"NASDAQ": "Nasdaq", "NYSE": "NYSE", "NYSEMKT": "NYSE", "NYSEARCA": "NYSE"}
#: Filing agents' CIKs that prefix accession numbers (EDGAR's convention: the submitter).
_AGENTS = (1477932, 1213900, 1104659, 950170, 1193125, 1628280, 1493152)
_FIRST = ("Daniel", "Maria", "Ronald", "Susan", "Ira", "Wei", "Priya", "James", "Laura", "Omar")
_LAST = ("Perez", "Vance", "Platt", "Nguyen", "Okafor", "Schmidt", "Rossi", "Tanaka", "Cole")
#: Companies outside the universe that file too (invented; one with " - " in its name, one
#: with Latin-1 letters).
_OUTSIDERS = (
    "Alpha - Omega Acquisition Corp",
    "Café Lumière Holdings S.A.",
    "Northgate Municipal Income Trust",
    "Blue Heron Capital Partners LP",
    "Summit Ridge Real Estate Fund II",
    "Orchard Street Ventures, LLC",
    "Harborview Structured Notes Trust 2026-3",
    "Keystone Variable Insurance Series",
)
_OUTSIDER_FORMS = ("D", "8-K", "4", "424B2", "10-Q", "S-8", "497", "SC 13G")
_LIBRARY_AGENTS = (
    "python-httpx",
    "python-requests",
    "python-urllib",
    "aiohttp",
    "curl/",
    "wget/",
    "go-http-client",
    "okhttp",
    "java/",
)


@dataclass(frozen=True, slots=True)
class SimFiling:
    """One simulated filing. `symbol` "" for a company outside the universe; `entities` the
    feed's entries, (name, cik, role) each; `catalyst` the kind of the story it comes before
    ("" for background); `accepted_at` an aware datetime (ET)."""

    accession: str
    cik: int
    symbol: str
    company: str
    form: str
    items: tuple[str, ...]
    accepted_at: datetime
    entities: tuple[tuple[str, int, str], ...]
    size_kb: int
    catalyst: str = ""


@dataclass(frozen=True, slots=True)
class PlantedFiling:
    """A filing planted a few minutes before a story, for benches: the story's symbol and
    kind (`simulated.market`'s), the filing's acceptance time (aware, ET), form and items."""

    symbol: str
    accepted_at: datetime
    form: str
    items: tuple[str, ...]
    story: str


# -- companies --------------------------------------------------------------------------------

_CACHE: weakref.WeakKeyDictionary[SimMarket, dict[object, object]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _cached(market: SimMarket) -> dict[object, object]:
    with _LOCK:
        return _CACHE.setdefault(market, {})


def company_ciks(market: SimMarket) -> dict[str, int]:
    """Each simulated stock's CIK: fixed by the seed and the symbol, unique, 1,000,000 to
    1,899,999 (companies outside the universe get CIKs above)."""
    cache = _cached(market)
    found = cache.get("ciks")
    if isinstance(found, dict):
        return found
    out: dict[str, int] = {}
    taken: set[int] = set()
    for sec in market.stocks:
        cik = random.Random(f"{market.seed}|cik|{sec.symbol}").randint(1_000_000, 1_899_999)
        while cik in taken:
            cik += 1
        taken.add(cik)
        out[sec.symbol] = cik
    cache["ciks"] = out
    return out


def _class_b(market: SimMarket) -> list[str]:
    """The couple of universe companies that also have a class B listed (on OTC)."""
    rng = random.Random(f"{market.seed}|classes")
    stocks = [s.symbol for s in market.stocks if "." not in s.symbol]
    return sorted(rng.sample(stocks, min(2, len(stocks))))


def ticker_rows(market: SimMarket) -> list[list[object]]:
    """The ticker map's `data` rows: [cik, name, ticker, exchange or None]."""
    ciks = company_ciks(market)
    rows: list[list[object]] = []
    for sec in market.stocks:
        venue = _VENUES.get(sec.exchange, "CBOE" if sec.exchange == "BATS" else None)
        rows.append([ciks[sec.symbol], sec.name.upper(), sec.symbol.replace(".", "-"), venue])
    for k, symbol in enumerate(_class_b(market)):
        rows.append(
            [
                ciks[symbol],
                market.stocks[market.index[symbol]].name.upper(),
                f"{symbol}-B",
                "OTC" if k == 0 else None,
            ]
        )
    for k, name in enumerate(_OUTSIDERS):
        rows.append([1_900_000 + 17 * k, name.upper(), f"ZZO{chr(65 + k)}", "OTC"])
    return rows


def ticker_map_body(market: SimMarket) -> bytes:
    """`company_tickers_exchange.json` as the SEC serves it: one compact line."""
    doc = {"fields": ["cik", "name", "ticker", "exchange"], "data": ticker_rows(market)}
    return json.dumps(doc, separators=(",", ":")).encode()


# -- the day's filings ------------------------------------------------------------------------


def _person(rng: random.Random) -> tuple[str, int]:
    name = f"{rng.choice(_LAST)} {rng.choice(_FIRST)} {chr(rng.randint(65, 90))}"
    return name, rng.randint(1_950_000, 2_099_999)


def _at(day: date, minute: float) -> datetime:
    """Minutes from 04:00 ET of `day` as an aware datetime, kept in EDGAR's hours."""
    base = datetime.combine(day, mh.PRE_OPEN, tzinfo=mh.ET)
    at = base + timedelta(seconds=round(minute * 60))
    opens = datetime.combine(day, EDGAR_OPENS, tzinfo=mh.ET)
    closes = datetime.combine(day, EDGAR_CLOSES, tzinfo=mh.ET)
    return min(max(at, opens), closes - timedelta(seconds=1))


class _Day:
    """Builds one day's filings with one seeded generator."""

    def __init__(self, market: SimMarket, day: date):
        self.market = market
        self.day = day
        self.rng = random.Random(f"{market.seed}|sec|{day.isoformat()}")
        self.ciks = company_ciks(market)
        self.filings: list[SimFiling] = []
        self._accessions: set[str] = set()

    def accession(self, self_filed: int | None = None) -> str:
        while True:
            agent = self_filed if self_filed is not None else self.rng.choice(_AGENTS)
            text = f"{agent:010d}-{self.day.year % 100:02d}-{self.rng.randint(1, 29999):06d}"
            if text not in self._accessions:
                self._accessions.add(text)
                return text

    def add(
        self,
        symbol: str,
        form: str,
        items: tuple[str, ...],
        at: datetime,
        *,
        catalyst: str = "",
        company: str = "",
        cik: int = 0,
    ) -> None:
        rng = self.rng
        if symbol:
            company = self.market.stocks[self.market.index[symbol]].name
            cik = self.ciks[symbol]
        entities: tuple[tuple[str, int, str], ...] = ((company, cik, "Filer"),)
        self_filed: int | None = None
        if form in ("4", "4/A"):
            owner, owner_cik = _person(rng)
            entities = ((owner, owner_cik, "Reporting"), (company, cik, "Issuer"))
            self_filed = owner_cik if rng.random() < 0.5 else None
        elif form.startswith("SC 13"):
            holder = rng.choice(("Vanguard Group Inc", "BlackRock, Inc.", "Armistice Capital"))
            entities = (
                (company, cik, "Subject"),
                (holder, rng.randint(1_900_000, 2_099_999), "Filed by"),
            )
        size = {"10-Q": rng.randint(900, 9000), "S-1": rng.randint(1500, 6000)}.get(
            form, rng.randint(4, 400)
        )
        self.filings.append(
            SimFiling(
                self.accession(self_filed),
                cik,
                symbol,
                company,
                form,
                items,
                at,
                entities,
                size,
                catalyst,
            )
        )

    def build(self) -> list[SimFiling]:
        market, rng, day = self.market, self.rng, self.day
        stories = market.planted(day) if day >= market.first_day else ()
        movers = {p.symbol for p in stories}
        for p in stories:
            if p.symbol not in self.ciks:
                continue
            opener = p.kind == NEWS and p.minute == OPENER_NEWS_MINUTE
            if opener or rng.random() < CATALYST_CHANCE.get(p.kind, 0.0):
                lead = 3.0 if opener else rng.uniform(1.0, 8.0)
                at = _at(day, p.minute - lead)
                if at.time() <= EDGAR_OPENS:
                    continue  # before EDGAR opens: the news came another way
                items = rng.choice(_UP_ITEMS if p.direction > 0 else _DOWN_ITEMS)
                self.add(p.symbol, "8-K", items, at, catalyst=p.kind)
            elif p.kind == FALSE_START and rng.random() < 0.7:
                # An offering at the pop's top: the run ends.
                self.add(p.symbol, "424B5", (), _at(day, p.minute + p.duration))
        quiet = sorted(s.symbol for s in market.stocks if s.symbol not in movers)
        n = len(market.stocks)

        def some(count: int) -> list[str]:
            return rng.sample(quiet, min(len(quiet), count))

        def minute() -> float:
            return rng.uniform(120.0, 810.0)  # 06:00 to 17:30

        for symbol in some(max(3, round(n * 0.01))):
            self.add(symbol, "10-Q", (), _at(day, minute()))
        for symbol in some(max(4, round(n * 0.008))):
            self.add(
                symbol,
                rng.choice(("8-K", "8-K", "8-K/A")),
                rng.choice(_QUIET_8K),
                _at(day, minute()),
            )
        for symbol in some(max(2, round(n * 0.004))):
            start = minute()
            for _ in range(rng.randint(2, 4)):
                self.add(symbol, "4", (), _at(day, start + rng.uniform(0.0, 50.0)))
        for symbol in some(max(3, round(n * 0.006))):
            self.add(symbol, "4", (), _at(day, minute()))
        for symbol in some(max(1, round(n * 0.002))):
            self.add(symbol, "SC 13G/A", (), _at(day, minute()))
        for symbol in some(1):
            self.add(symbol, "S-1", (), _at(day, minute()))
        for _ in range(max(20, round(n * 0.05))):
            index = rng.randrange(len(_OUTSIDERS))
            self.add(
                "",
                rng.choice(_OUTSIDER_FORMS),
                (),
                _at(day, minute()),
                company=_OUTSIDERS[index],
                cik=1_900_000 + 17 * index,
            )
        return sorted(self.filings, key=lambda f: (f.accepted_at, f.accession), reverse=True)


def filings_of(market: SimMarket, day: date) -> tuple[SimFiling, ...]:
    """`day`'s filings (every one, whatever the clock), newest first; none on a weekend."""
    if day.weekday() >= 5:
        return ()
    cache = _cached(market)
    key = ("filings", day)
    found = cache.get(key)
    if isinstance(found, tuple):
        return found
    built = tuple(_Day(market, day).build())
    with _LOCK:
        cache[key] = built
    return built


def planted_filings(market: SimMarket, day: date) -> tuple[PlantedFiling, ...]:
    """The filings planted before `day`'s stories (read-only ground truth for benches):
    symbol, acceptance time, form, items and the story's kind, oldest first."""
    return tuple(
        PlantedFiling(f.symbol, f.accepted_at, f.form, f.items, f.catalyst)
        for f in reversed(filings_of(market, day))
        if f.catalyst
    )


# -- the feed ---------------------------------------------------------------------------------


def _previous_weekday(day: date) -> date:
    day -= timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def feed_entries(market: SimMarket, now: datetime) -> list[tuple[SimFiling, int]]:
    """The feed at `now`: (filing, entity index) pairs, newest first, over today's filings
    accepted by `now` and the previous weekday's."""
    today = now.astimezone(mh.ET).date()
    out: list[tuple[SimFiling, int]] = []
    for day in (today, _previous_weekday(today)):
        for f in filings_of(market, day):
            if f.accepted_at <= now:
                out.extend((f, k) for k in range(len(f.entities)))
    return out


def _summary(f: SimFiling) -> str:
    size = f"{f.size_kb} KB" if f.size_kb < 1024 else f"{f.size_kb // 1024} MB"
    lines = [
        f" <b>Filed:</b> {f.accepted_at.date().isoformat()} <b>AccNo:</b> {f.accession} "
        f"<b>Size:</b> {size}"
    ]
    lines += [f"<br>Item {i}: {_ITEM_TITLES.get(i, 'Other')}" for i in f.items]
    return escape("\n".join(lines))


def _entry(f: SimFiling, k: int) -> str:
    name, cik, role = f.entities[k]
    link = (
        f"https://www.sec.gov/Archives/edgar/data/{cik}/{f.accession.replace('-', '')}/"
        f"{f.accession}-index.htm"
    )
    return (
        "<entry>\n"
        f"<title>{escape(f'{f.form} - {name} ({cik:010d}) ({role})')}</title>\n"
        f'<link rel="alternate" type="text/html" href="{link}"/>\n'
        f'<summary type="html">\n{_summary(f)}\n</summary>\n'
        f"<updated>{f.accepted_at.isoformat(timespec='seconds')}</updated>\n"
        f'<category scheme="https://www.sec.gov/" label="form type" term="{escape(f.form)}"/>\n'
        f"<id>urn:tag:sec.gov,2008:accession-number={f.accession}</id>\n"
        "</entry>\n"
    )


def render_feed(entries: list[tuple[SimFiling, int]], now: datetime) -> bytes:
    """The Atom page for `entries`, ISO-8859-1 encoded as EDGAR serves it."""
    et = now.astimezone(mh.ET)
    head = (
        '<?xml version="1.0" encoding="ISO-8859-1" ?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom">\n'
        f"<title>Latest Filings - {et.strftime('%a, %d %b %Y %H:%M:%S')} "
        f"{'EDT' if et.dst() else 'EST'}</title>\n"
        '<link rel="alternate" href="/cgi-bin/browse-edgar?action=getcurrent"/>\n'
        '<link rel="self" href="/cgi-bin/browse-edgar?action=getcurrent"/>\n'
        "<id>https://www.sec.gov/cgi-bin/browse-edgar?action=getcurrent</id>\n"
        "<author><name>Webmaster</name><email>webmaster@sec.gov</email></author>\n"
        f"<updated>{et.isoformat(timespec='seconds')}</updated>\n"
    )
    body = head + "".join(_entry(f, k) for f, k in entries) + "</feed>\n"
    return body.encode("iso-8859-1", "xmlcharrefreplace")


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def feed_body(market: SimMarket, params: dict[str, str], now: datetime) -> Answer:
    """The current-filings answer for the request's `params` (type, owner, start, count)."""
    start = max(0, _int(params.get("start"), 0))
    count = min(100, max(1, _int(params.get("count"), 40)))
    if start > DEEPEST_START:
        return maintenance_page()
    form_type = (params.get("type") or "").strip().upper()
    owner = (params.get("owner") or "include").lower()
    entries = feed_entries(market, now)
    if form_type:
        entries = [(f, k) for f, k in entries if f.form.upper().startswith(form_type)]
    if owner == "exclude":
        entries = [(f, k) for f, k in entries if f.form not in ("3", "4", "5", "4/A")]
    elif owner == "only":
        entries = [(f, k) for f, k in entries if f.form in ("3", "4", "5", "4/A")]
    page = entries[start : start + count]
    return 200, {"content-type": "application/atom+xml"}, render_feed(page, now)


# -- refusals and failures --------------------------------------------------------------------

_HTML = {"content-type": "text/html"}


def undeclared(headers: dict[str, str]) -> bool:
    """Whether a request's User-Agent is missing or a library's default (lower-case keys)."""
    agent = headers.get("user-agent", "").strip().lower()
    return not agent or agent.startswith(_LIBRARY_AGENTS)


def undeclared_page(rng: random.Random | None = None) -> Answer:
    """The 403 page the SEC sends undeclared tools (its wording, public-feeds.md §3.1)."""
    reference = f"{(rng or random.Random(0)).getrandbits(48):012x}"
    page = (
        "<!DOCTYPE html>\n<html><head><title>SEC.gov | Request Rate Threshold Exceeded"
        "</title></head>\n<body><h1>Your Request Originates from an Undeclared Automated "
        "Tool</h1>\n<p>Your request has been identified as part of a network of automated "
        "tools outside of the acceptable policy and will be managed until action is taken to "
        "declare your traffic.</p>\n<p>Please declare your traffic by updating your user agent "
        "to include company specific information.</p>\n<p>Reference ID: "
        f"0.{reference}</p></body></html>\n"
    )
    return 403, dict(_HTML), page.encode()


def too_many(retry_after: int = 600) -> Answer:
    page = (
        "<!DOCTYPE html>\n<html><head><title>SEC.gov | Request Rate Threshold Exceeded</title>"
        "</head>\n<body><p>Once the rate of requests has dropped below the threshold for 10 "
        "minutes, the user may resume accessing content on SEC.gov.</p></body></html>\n"
    )
    return 429, {**_HTML, "retry-after": str(retry_after)}, page.encode()


def maintenance_page() -> Answer:
    """The 503 "File Unavailable" page (AkamaiNetStorage) EDGAR served for a page too deep."""
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta http-equiv="content-type" '
        'content="text/html; charset=utf-8">\n<title>SEC.gov | File Unavailable</title>\n'
        "</head>\n<body><h1>File Unavailable</h1>\n<p>The file you requested is temporarily "
        "unavailable. Please try again later.</p></body>\n</html>\n"
    )
    return 503, {**_HTML, "server": "AkamaiNetStorage"}, page.encode()


def is_sec_path(path: str) -> bool:
    """Whether a request is for the simulated SEC (by path, whatever the host)."""
    return path.endswith(
        ("/company_tickers_exchange.json", "/company_tickers.json", "/cgi-bin/browse-edgar")
    )


def sec_answer(
    market: SimMarket,
    url: httpx.URL,
    headers: dict[str, str],
    now: datetime,
    kind: str | None = None,
    rng: random.Random | None = None,
) -> Answer:
    """The simulated SEC's answer to a GET of `url` (`is_sec_path`), with the fault `kind`
    (sec_no_ua, sec_429, sec_503, sec_truncated) or none. An undeclared request is refused
    whatever the fault."""
    if undeclared(headers) or kind == "sec_no_ua":
        return undeclared_page(rng)
    if kind == "sec_429":
        return too_many()
    if kind == "sec_503":
        return maintenance_page()
    if url.path.endswith("/cgi-bin/browse-edgar"):
        params = dict(url.params)
        if params.get("action") != "getcurrent":
            return 404, {"content-type": "text/plain"}, b"Not Found"
        return feed_body(market, params, now)
    body = ticker_map_body(market)
    if kind == "sec_truncated":
        cut = (rng or random.Random(0)).uniform(0.3, 0.9)
        body = body[: max(1, int(len(body) * cut))]
    return 200, {"content-type": "application/json"}, body
