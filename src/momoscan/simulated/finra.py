"""FINRA's files in the simulated market, in their wire formats (see `momoscan.sources.finra`;
public-feeds.md 4), served by their real paths:

- `/equity/otcmarket/biweekly/shrt{YYYYMMDD}.csv`: the short interest of every simulated stock
  (symbols without separators: `BRK.B` is `BRKB`) and a few OTC names outside the universe,
  pipe-delimited with the 14-column header, for a settlement date (the 15th and the month's
  end, rolled back to a trading day) once published: 8 trading days after it. Any other date
  answers 403 with S3's AccessDenied XML, as FINRA's CDN does for a file not published.
- `/equity/regsho/daily/CNMSshvol{YYYYMMDD}.txt`: the day's consolidated short sale volume
  (6-decimal volumes, a facility list), for every trading day up to the current one, the
  current one from 18:00 ET; a weekend, a holiday or a day not posted yet answers 404.

Short interest makes sense by tier against the float of the simulated company facts
(`simulated.facts`): a few percent of a large cap's float, more of a small one's, 10-35 % of a
low-float runner's. Faults: `finra_403` (no short interest file published at all),
`finra_404` (no short volume file).
"""

from __future__ import annotations

import random
import re
from datetime import date, datetime, time

from .. import market_hours as mh
from ..sources.finra import SI_HEADER, settlement_dates
from .facts import company_facts, low_float_names
from .faults import Answer
from .market import SimMarket

#: FINRA publishes about 7-9 business days after settlement (3rd-party, several agree).
PUBLISH_LAG = 8
#: The day's short volume file is posted by about 18:00 ET (3rd-party, UNVERIFIED).
POSTED_AT = time(18, 0)
_SI_FILE = re.compile(r"shrt(\d{8})\.csv$")
_SV_FILE = re.compile(r"CNMSshvol(\d{8})\.txt$")
_TEXT = {"content-type": "text/plain"}
_HEADER = "|".join(
    (
        "accountingYearMonthNumber",
        "symbolCode",
        "issueName",
        "issuerServicesGroupExchangeCode",
        "marketClassCode",
        "currentShortPositionQuantity",
        "previousShortPositionQuantity",
        "stockSplitFlag",
        "averageDailyVolumeQuantity",
        "daysToCoverQuantity",
        "revisionFlag",
        "changePercent",
        "changePreviousNumber",
        "settlementDate",
    )
)
_MARKET_CLASS = {"NASDAQ": "NNM", "NYSE": "NYSE", "NYSEARCA": "ARCA", "NYSEMKT": "AMEX"}
#: OTC names outside the universe (the file holds some 9,000 of them).
_OTC = (("GRLFF", "Greenleaf Mining Corp"), ("ZZOTY", "Zentrum Holdings ADR"))
_SI_SHARE = {"mega": (0.005, 0.03), "large": (0.01, 0.05), "mid": (0.02, 0.08)}
_SMALL_SI = (0.03, 0.15)
_RUNNER_SI = (0.10, 0.35)


def access_denied() -> Answer:
    """S3's AccessDenied XML with 403: FINRA's CDN's answer for a file it does not hold."""
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
        b"<Message>Access Denied</Message><RequestId>7Q4M2S9XK1V0B3JD</RequestId>"
        b"<HostId>simulated</HostId></Error>"
    )
    return 403, {"content-type": "application/xml"}, body


def not_found() -> Answer:
    return (
        404,
        {"content-type": "application/xml"},
        (
            b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code>'
            b"<Message>The specified key does not exist.</Message></Error>"
        ),
    )


def _day(text: str) -> date | None:
    try:
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        return None


def published_on(settlement: date) -> date:
    """The day a settlement's file comes out: `PUBLISH_LAG` trading days after it."""
    day = settlement
    for _ in range(PUBLISH_LAG):
        day = mh.next_trading_day(day)
    return day


def is_finra_path(path: str) -> bool:
    return bool(_SI_FILE.search(path) or _SV_FILE.search(path))


def short_interest_body(market: SimMarket, settlement: date, now: datetime) -> bytes:
    """The short interest file of `settlement` (the figures of the company facts at `now`)."""
    low = low_float_names(market, market.trading_day_at(now)[0])
    lines = [_HEADER]
    for sec in market.stocks:
        facts = company_facts(market, sec.symbol, now)
        rng = random.Random(f"{market.seed}|si|{sec.symbol}|{settlement}")
        floating = facts.float_shares if facts is not None and facts.float_shares else None
        if floating is None:
            floating = max(1_000_000, sec.avg_volume * 50)
        share = _RUNNER_SI if sec.symbol in low else _SI_SHARE.get(sec.cap_tier, _SMALL_SI)
        current = round(floating * rng.uniform(*share))
        previous = round(current * rng.uniform(0.8, 1.2))
        volume = max(0, round(sec.avg_volume * rng.uniform(0.7, 1.3)))
        days = min(999.99, max(1.0, current / volume)) if volume else 1.0
        change = (current - previous) / previous * 100 if previous else 0.0
        lines.append(
            "|".join(
                (
                    settlement.strftime("%Y%m%d"),
                    sec.symbol.replace(".", ""),
                    sec.name,
                    "A",
                    _MARKET_CLASS.get(sec.exchange, "NNM"),
                    str(current),
                    str(previous),
                    "",
                    str(volume),
                    f"{days:.2f}",
                    "",
                    f"{change:.2f}",
                    str(current - previous),
                    settlement.isoformat(),
                )
            )
        )
    for symbol, name in _OTC:
        lines.append(
            f"{settlement:%Y%m%d}|{symbol}|{name}|A|OTC|12000|15000||3000|4.00||-20.00|-3000|"
            f"{settlement.isoformat()}"
        )
    assert len(_HEADER.split("|")) == len(SI_HEADER)
    return ("\n".join(lines) + "\n").encode()


def short_volume_body(market: SimMarket, day: date) -> bytes:
    """The CNMS short sale volume file of trade date `day`."""
    rvol = {market.securities[mv.index].symbol: mv.rvol for mv in market.movers_for(day)}
    lines = ["Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market"]
    for sec in market.stocks:
        rng = random.Random(f"{market.seed}|sv|{sec.symbol}|{day}")
        total = sec.avg_volume * rng.lognormvariate(0.0, 0.3) * rvol.get(sec.symbol, 1.0)
        total = round(total, 6)
        short = round(total * rng.uniform(0.25, 0.65), 6)
        lines.append(
            f"{day:%Y%m%d}|{sec.symbol}|{short:.6f}|{rng.randint(0, 500)}|{total:.6f}|"
            f"{rng.choice(('B,Q,N', 'Q,N', 'B,Q', 'Q'))}"
        )
    return ("\n".join(lines) + "\n").encode()


def finra_answer(market: SimMarket, path: str, now: datetime, kind: str | None = None) -> Answer:
    """The answer to a GET of a FINRA file at `now`, with the fault `kind` (`finra_403`,
    `finra_404`) or none."""
    local = now.astimezone(mh.ET)
    si = _SI_FILE.search(path)
    if si is not None:
        settlement = _day(si.group(1))
        if (
            kind == "finra_403"
            or settlement is None
            or settlement not in settlement_dates(settlement, 1)
            or published_on(settlement) > local.date()
        ):
            return access_denied()
        return 200, dict(_TEXT), short_interest_body(market, settlement, now)
    sv = _SV_FILE.search(path)
    day = _day(sv.group(1)) if sv is not None else None
    if kind == "finra_404" or day is None or not mh.is_trading_day(day):
        return not_found()
    if day > local.date() or (day == local.date() and local.time() < POSTED_AT):
        return not_found()
    return 200, dict(_TEXT), short_volume_body(market, day)
