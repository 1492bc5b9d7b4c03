"""SEC company facts in the simulated market: each simulated stock's XBRL facts
(`/api/xbrl/companyfacts/CIK##########.json`) in the wire format (see
`momoscan.sources.sec_facts`; public-feeds.md 3.5), under the CIKs of the simulated ticker map
(`simulated.sec.company_ciks`).

The figures are a deterministic function of the seed, the symbol and the day, and make sense
by cap tier: shares outstanding are a market cap typical of the tier over the listing's price,
the public float a share of them (most for large caps, less for small ones), valued at a price
near the listing's as of the last trading day of June (the filers' fiscal year is the
calendar year, so the 10-K filed in March reports the June before).
- Most of the day's planted runners, news jumps and gappers have a LOW float (1-8 million
  shares), as the stocks that run usually do.
- Some companies report no public float (a smaller reporting company's 10-Q only): their float
  is the shares outstanding.
- One company of every hundred or so (and always one of the universe) reports no shares
  figure at all (an IFRS filer without the dei concepts); the `facts_no_shares` fault makes
  more of them.
- Multi-class companies report one fact per class a filing (summed by the reader), and some
  10-Ks are amended (a 10-K/A re-files the same cover date later, with a revised count).
- A CIK the map does not hold answers 404; a request without a declared User-Agent gets the
  SEC's 403 page, as every SEC request (simulated/sec.py).
"""

from __future__ import annotations

import json
import random
import re
import threading
import weakref
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from .. import market_hours as mh
from .faults import Answer
from .market import GAPPER, NEWS, RUNNER, SimMarket
from .sec import company_ciks, maintenance_page, too_many, undeclared, undeclared_page

#: A typical market cap (dollars) of each tier: (lowest, highest), drawn log-uniformly.
_TIER_CAP = {
    "mega": (2.0e11, 3.0e12),
    "large": (1.0e10, 2.0e11),
    "mid": (2.0e9, 1.0e10),
    "small": (3.0e8, 2.0e9),
    "micro": (5.0e7, 3.0e8),
    "nano": (5.0e6, 5.0e7),
    "": (1.0e8, 1.0e9),
}
#: The public float's share of the shares outstanding, by tier (non-affiliates hold less of
#: a small company).
_TIER_FLOAT = {"mega": (0.85, 0.99), "large": (0.75, 0.98), "mid": (0.6, 0.95)}
_SMALL_FLOAT = (0.3, 0.9)
#: Of the day's runners, news jumps and gappers, this share has a low float.
LOW_FLOAT_CHANCE = 0.8
LOW_FLOAT_SHARES = (1_000_000, 8_000_000)
NO_PUBLIC_FLOAT_CHANCE = 0.08
NO_SHARES_CHANCE = 0.01
MULTI_CLASS_CHANCE = 0.06
AMENDED_CHANCE = 0.1
_PATH = re.compile(r"/CIK(\d{10})\.json$")
_JSON = {"content-type": "application/json"}
_SHARES_DESCRIPTION = (
    "Indicate number of shares or other units outstanding of each of registrant's classes of "
    "capital or common stock or other ownership interests, if and as stated on cover of "
    "related periodic report. Where multiple classes or units exist define each class/interest "
    "by adding class of stock items such as Common Class A [Member], Common Class B [Member] "
    "or Partnership Interest [Member] onto the Instrument [Domain] of the Entity Listings, "
    "Instrument."
)
_FLOAT_DESCRIPTION = (
    "The aggregate market value of the voting and non-voting common equity held by "
    "non-affiliates computed by reference to the price at which the common equity was last "
    "sold, or the average bid and asked price of such common equity, as of the last business "
    "day of the registrant's most recently completed second fiscal quarter."
)


@dataclass(frozen=True, slots=True)
class SimFacts:
    """One company's figures as its facts report them. `float_shares` is the true float the
    public float was valued from (the reader only estimates it); `classes` the share of the
    count each class's fact carries (one class: (1.0,)); None where not reported."""

    symbol: str
    cik: int
    shares: int | None
    public_float_usd: float | None
    float_as_of: date | None
    float_shares: int | None
    classes: tuple[float, ...] = (1.0,)
    amended: bool = False


def _rng(market: SimMarket, *key: object) -> random.Random:
    return random.Random("|".join(map(str, (market.seed, "facts", *key))))


_CACHE: weakref.WeakKeyDictionary[SimMarket, dict[object, object]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _cache(market: SimMarket) -> dict[object, object]:
    with _LOCK:
        return _CACHE.setdefault(market, {})


def low_float_names(market: SimMarket, day: date) -> frozenset[str]:
    """The day's planted runners, news jumps and gappers (up) that have a low float."""
    cache = _cache(market)
    found = cache.get(("low", day))
    if isinstance(found, frozenset):
        return found
    out = set()
    for mv in market.movers_for(day):
        if mv.kind not in (RUNNER, NEWS, GAPPER) or mv.log_move <= 0:
            continue
        symbol = market.securities[mv.index].symbol
        if _rng(market, symbol, "low").random() < LOW_FLOAT_CHANCE:
            out.add(symbol)
    frozen = frozenset(out)
    cache[("low", day)] = frozen
    return frozen


def no_shares_name(market: SimMarket) -> str:
    """The one company of the universe that always reports no shares figure: one without a
    story on the market's first day, fixed by the seed."""
    cache = _cache(market)
    found = cache.get("no-shares")
    if isinstance(found, str):
        return found
    movers = {market.securities[mv.index].symbol for mv in market.movers_for(market.first_day)}
    quiet = sorted(s.symbol for s in market.stocks if s.symbol not in movers)
    name = _rng(market, "no-shares").choice(quiet) if quiet else ""
    cache["no-shares"] = name
    return name


def float_date(now: datetime) -> date:
    """The public float's as-of date in the newest 10-K at `now`: the last trading day of
    June of the fiscal year the 10-K (filed by mid-March) covers."""
    local = now.astimezone(mh.ET).date()
    year = local.year - 1 if (local.month, local.day) >= (3, 15) else local.year - 2
    return mh.last_trading_day(date(year, 6, 30))


def company_facts(market: SimMarket, symbol: str, now: datetime) -> SimFacts | None:
    """`symbol`'s figures at `now` (None for a symbol the market does not hold)."""
    i = market.index.get(symbol)
    ciks = company_ciks(market)
    if i is None or symbol not in ciks:
        return None
    sec = market.securities[i]
    rng = _rng(market, symbol)
    low, high = _TIER_CAP.get(sec.cap_tier, _TIER_CAP[""])
    cap = low * (high / low) ** rng.random()
    price = max(sec.price, 0.5)
    shares = max(1_000_000, round(cap / price))
    lo, hi = _TIER_FLOAT.get(sec.cap_tier, _SMALL_FLOAT)
    float_shares = round(shares * rng.uniform(lo, hi))
    day, _ = market.trading_day_at(now)
    if symbol in low_float_names(market, day):
        float_shares = rng.randint(*LOW_FLOAT_SHARES)
        shares = max(shares // 20, round(float_shares / rng.uniform(0.45, 0.9)))
        shares = max(shares, float_shares)
    as_of = float_date(now)
    public: float | None = round(float_shares * price * rng.uniform(0.8, 1.25), 0)
    if rng.random() < NO_PUBLIC_FLOAT_CHANCE:
        public = None
    classes: tuple[float, ...] = (1.0,)
    if rng.random() < MULTI_CLASS_CHANCE:
        a = rng.uniform(0.6, 0.9)
        classes = (a, 1.0 - a)
    no_shares = symbol == no_shares_name(market) or rng.random() < NO_SHARES_CHANCE
    return SimFacts(
        symbol=symbol,
        cik=ciks[symbol],
        shares=None if no_shares else shares,
        public_float_usd=None if no_shares else public,
        float_as_of=None if no_shares or public is None else as_of,
        float_shares=float_shares,
        classes=classes,
        amended=rng.random() < AMENDED_CHANCE,
    )


def _accn(cik: int, year: int, n: int) -> str:
    return f"{cik:010d}-{year % 100:02d}-{n:06d}"


def _covers(facts: SimFacts, today: date) -> list[tuple[date, date, str, str, int]]:
    """The periodic reports' cover dates before `today`, oldest first: (end, filed, form, fp,
    fy) for the last 4 quarters, a cover date some 4-6 weeks after each quarter's end."""
    out = []
    rng = random.Random(f"{facts.cik}|covers")
    lag = rng.randint(25, 40)
    for back in range(8, 0, -1):
        year, quarter = today.year, (today.month - 1) // 3 + 1
        quarter -= back
        while quarter <= 0:
            quarter += 4
            year -= 1
        q_end = date(year, quarter * 3, 1) + timedelta(days=31)
        q_end = q_end.replace(day=1) - timedelta(days=1)
        end = q_end + timedelta(days=lag + (30 if quarter == 4 else 0))
        filed = end + timedelta(days=rng.randint(2, 9))
        if filed >= today:
            continue
        form, fp = ("10-K", "FY") if quarter == 4 else ("10-Q", f"Q{quarter}")
        out.append((end, filed, form, fp, year))
    return out[-4:]


def facts_document(facts: SimFacts, name: str, now: datetime) -> dict[str, object]:
    """The companyfacts JSON object of `facts` at `now` (the `dei` concepts; a company
    without a shares figure has only `ifrs-full`)."""
    today = now.astimezone(mh.ET).date()
    doc: dict[str, object] = {"cik": facts.cik, "entityName": name}
    if facts.shares is None:
        doc["facts"] = {"ifrs-full": _revenue(facts, today, "20-F")}
        return doc
    shares_facts: list[dict[str, object]] = []
    covers = _covers(facts, today)
    for n, (end, filed, form, fp, fy) in enumerate(covers):
        # Earlier covers: fewer shares (small companies issue more every quarter).
        count = round(facts.shares * (1.0 - 0.02 * (len(covers) - 1 - n)))
        accn = _accn(facts.cik, filed.year, 100 + n)
        filings = [(accn, form, filed, count)]
        if facts.amended and form == "10-K":
            later = filed + timedelta(days=21)
            if later < today:
                filings.append((_accn(facts.cik, later.year, 200 + n), "10-K/A", later, count))
                # The original's count was revised by the amendment.
                filings[0] = (accn, form, filed, round(count * 0.97))
        for accession, kind, on, total in filings:
            for k, part in enumerate(facts.classes):
                fact: dict[str, object] = {
                    "end": end.isoformat(),
                    "val": round(total * part),
                    "accn": accession,
                    "fy": fy,
                    "fp": fp,
                    "form": kind,
                    "filed": on.isoformat(),
                }
                if k == 0 and kind == form:
                    fact["frame"] = f"CY{end.year}Q{(end.month - 1) // 3 + 1}I"
                shares_facts.append(fact)
    dei: dict[str, object] = {
        "EntityCommonStockSharesOutstanding": {
            "label": "Entity Common Stock, Shares Outstanding",
            "description": _SHARES_DESCRIPTION,
            "units": {"shares": shares_facts},
        }
    }
    tenk = [c for c in covers if c[2] == "10-K"]
    if facts.public_float_usd is not None and facts.float_as_of is not None and tenk:
        end, filed, _, _, fy = tenk[-1]
        # The fiscal year is the calendar year: its second quarter ends in June.
        as_of = mh.last_trading_day(date(fy, 6, 30))
        dei["EntityPublicFloat"] = {
            "label": "Entity Public Float",
            "description": _FLOAT_DESCRIPTION,
            "units": {
                "USD": [
                    {
                        "end": as_of.isoformat(),
                        "val": facts.public_float_usd,
                        "accn": _accn(facts.cik, filed.year, 100 + covers.index(tenk[-1])),
                        "fy": fy,
                        "fp": "FY",
                        "form": "10-K",
                        "filed": filed.isoformat(),
                        "frame": f"CY{as_of.year}Q2I",
                    }
                ]
            },
        }
    doc["facts"] = {"dei": dei, "us-gaap": _revenue(facts, today, "10-K")}
    return doc


def _revenue(facts: SimFacts, today: date, form: str) -> dict[str, object]:
    year = today.year - 1
    return {
        "Revenues": {
            "label": "Revenues",
            "description": "Amount of revenue recognized from goods sold and services rendered.",
            "units": {
                "USD": [
                    {
                        "start": f"{year}-01-01",
                        "end": f"{year}-12-31",
                        "val": (facts.cik % 97 + 1) * 1_000_000,
                        "accn": _accn(facts.cik, year + 1, 1),
                        "fy": year,
                        "fp": "FY",
                        "form": form,
                        "filed": f"{year + 1}-03-02",
                    }
                ]
            },
        }
    }


def _by_cik(market: SimMarket) -> dict[int, str]:
    cache = _cache(market)
    found = cache.get("by-cik")
    if isinstance(found, dict):
        return found
    by_cik = {c: s for s, c in company_ciks(market).items()}
    cache["by-cik"] = by_cik
    return by_cik


def is_facts_path(path: str) -> bool:
    """Whether a request is for the simulated company facts (by path, whatever the host)."""
    return "/api/xbrl/companyfacts/" in path


def _not_found() -> Answer:
    body = b'{"message":"Not Found"}'
    return 404, dict(_JSON), body


def facts_answer(
    market: SimMarket,
    path: str,
    headers: dict[str, str],
    now: datetime,
    kind: str | None = None,
    rng: random.Random | None = None,
    *,
    no_shares: bool = False,
) -> Answer:
    """The answer to `GET .../companyfacts/CIK##########.json`, with the fault `kind`
    (`facts_truncated`: the JSON cut part way; `sec_no_ua`, `sec_429`, `sec_503` as every SEC
    request's) or none; `no_shares` (the `facts_no_shares`
    fault) drops the company's dei concepts. An undeclared request gets the SEC's 403 page."""
    if undeclared(headers) or kind == "sec_no_ua":
        return undeclared_page(rng)
    if kind == "sec_429":
        return too_many()
    if kind == "sec_503":
        return maintenance_page()
    match = _PATH.search(path)
    if match is None:
        return _not_found()
    cik = int(match.group(1))
    symbol = _by_cik(market).get(cik)
    facts = None if symbol is None else company_facts(market, symbol, now)
    if facts is None or symbol is None:
        return _not_found()
    if no_shares:
        facts = SimFacts(symbol, cik, None, None, None, facts.float_shares)
    name = market.securities[market.index[symbol]].name
    body = json.dumps(facts_document(facts, name, now), separators=(",", ":")).encode()
    if kind == "facts_truncated":
        cut = (rng or random.Random(0)).uniform(0.2, 0.9)
        body = body[: max(1, int(len(body) * cut))]
    return 200, dict(_JSON), body
