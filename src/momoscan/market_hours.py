"""The NYSE trading calendar and session clock, in US Eastern time.

Where each fact comes from:

* Full-day closures (the NYSE holiday rules, their start and end years such as MLK Day from
  1998 and Juneteenth from 2022, the Saturday New Year's Day that is not made up, and one-off
  closures such as 9/11, Hurricane Sandy and the national days of mourning) come from the
  `holidays` package's NYSE financial calendar (`holidays.financial_holidays("NYSE")`, category
  PUBLIC). Its names are kept, less the library's " (observed)" suffix.
* Early closes come from the same calendar's HALF_DAY category: the day after Thanksgiving,
  Christmas Eve, the day before Independence Day, and the irregular ones (July 5 1996 and 2002
  instead of July 3, December 26 1997 and 2003, December 31 1999, and older one-offs). The
  close time is read from the label the library gives each half day ("... (markets close at
  1:00pm)"); a half day whose label names no time closes at 13:00, the NYSE's standard early
  close.
* Kept by hand here: the session clock, which no calendar library models without pandas: the
  04:00 pre-market, the 09:30 open, the 16:00 close, and after-hours until 20:00, or four hours
  after an early close.

`tests/test_market_hours.py` checks every day's closure and close time against
`exchange_calendars`' XNYS calendar (a test-only dependency: it imports pandas, which this module
must never do), so a change in either library that makes them disagree fails the tests.

`holidays` costs about 0.1 s to import, so it is imported on the first calendar query rather
than with this module; each year's calendar is then built once and cached.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

from momoscan.models import Session

ET = ZoneInfo("America/New_York")

PRE_OPEN = time(4, 0)
OPEN = time(9, 30)
CLOSE = time(16, 0)
EARLY_CLOSE = time(13, 0)
AFTER_CLOSE = time(20, 0)
#: After-hours trading ends four hours after an early close (17:00 after a 13:00 close) rather
#: than at 20:00.
_EARLY_AFTER_HOURS = timedelta(hours=4)

_SATURDAY = 5

#: The library's label language, pinned so that names and close-time labels parse the same way
#: whatever the machine's locale.
_LANGUAGE = "en_US"
_OBSERVED_SUFFIX = " (observed)"
#: "markets close at 1:00pm", "markets close at 2:07pm", "markets close at 11:00am".
_CLOSE_LABEL = re.compile(r"markets close at (\d{1,2}):(\d{2})\s*([ap]m)", re.IGNORECASE)


class _YearCalendar:
    """One year's full-day closures and early closes, built once per year."""

    __slots__ = ("closures", "early_closes")

    def __init__(self, closures: Mapping[date, str], early_closes: Mapping[date, time]) -> None:
        self.closures = closures
        self.early_closes = early_closes


def _close_time(label: str) -> time:
    """The close time a half-day label names: the earliest if several, else 13:00."""
    times = []
    for hour, minute, meridiem in _CLOSE_LABEL.findall(label):
        h = int(hour) % 12 + (12 if meridiem.lower() == "pm" else 0)
        times.append(time(h, int(minute)))
    return min(times, default=EARLY_CLOSE)


#: Years given whole by another process (`install_calendar`): read from here, not `holidays`.
_INSTALLED: dict[int, _YearCalendar] = {}

#: A portable calendar: {year: (full-day closures with their names, early closes' times)}.
CalendarYears = dict[int, tuple[dict[date, str], dict[date, time]]]


def export_calendar(years: Iterable[int]) -> CalendarYears:
    """These years of the NYSE calendar as plain data, for `install_calendar` in a process
    that should not import `holidays` (it loads some 300 countries' modules, 16 MB, to answer
    for one exchange)."""
    out: CalendarYears = {}
    for year in years:
        cal = _year(year)
        out[year] = (dict(cal.closures), dict(cal.early_closes))
    return out


def install_calendar(calendar: CalendarYears) -> None:
    """Answer for `calendar`'s years from it (see `export_calendar`); other years are still
    read from `holidays` when asked."""
    for year, (closures, early) in calendar.items():
        _INSTALLED[year] = _YearCalendar(MappingProxyType(closures), MappingProxyType(early))
    _year.cache_clear()


@functools.lru_cache(maxsize=256)
def _year(year: int) -> _YearCalendar:
    installed = _INSTALLED.get(year)
    if installed is not None:
        return installed
    # Imported here, not at module level: the package takes about 0.1 s to import, which
    # `import momoscan.cli` should not pay for commands that never consult the calendar.
    import holidays as hd

    public = hd.financial_holidays("NYSE", years=year, language=_LANGUAGE)
    half_days = hd.financial_holidays(
        "NYSE", years=year, language=_LANGUAGE, categories=hd.HALF_DAY
    )
    # Weekdays of this year only: a weekend is closed anyway, and `holidays()` lists the
    # weekdays on which a weekend holiday is observed.
    closures = {
        d: name.replace(_OBSERVED_SUFFIX, "")
        for d, name in sorted(public.items())
        if d.year == year and d.weekday() < _SATURDAY
    }
    early = {
        d: _close_time(name)
        for d, name in sorted(half_days.items())
        if d.year == year and d.weekday() < _SATURDAY and d not in closures
    }
    # Read-only views: the cache is shared, so no caller may mutate it.
    return _YearCalendar(MappingProxyType(closures), MappingProxyType(early))


def holidays(year: int) -> dict[date, str]:
    """Full-day NYSE closures in a year, mapped to their names.

    Args:
        year: The calendar year.

    Returns:
        A fresh dict (safe to mutate) of closure dates within `year`. Weekend-observed holidays
        appear on the weekday they are observed; a Saturday New Year's Day has no entry.
    """
    return dict(_year(year).closures)


def load_calendar(*years: int) -> None:
    """Load these years' holiday tables now (the first costs about 0.1 s of imports): for a
    worker thread, so that the event loop never pays for it."""
    for year in years:
        _year(year)


def is_trading_day(d: date) -> bool:
    """Whether the NYSE holds a regular session on `d`."""
    return d.weekday() < _SATURDAY and d not in _year(d.year).closures


def early_close(d: date) -> time | None:
    """The early close time if `d` is a half day, else None (also None for non-trading days).

    Since 1993 half days close at 13:00 (`EARLY_CLOSE`): the day after Thanksgiving, Christmas
    Eve when Christmas is a Tuesday to Friday, and the day around Independence Day (July 3, or
    Friday July 5 in 1996 and 2002), plus one-offs such as December 31 1999. Irregular closes
    keep their own time (14:30 on 1994-02-11, a snowstorm; 14:00 before 1993).
    """
    if d.weekday() >= _SATURDAY:
        return None
    return _year(d.year).early_closes.get(d)


def previous_trading_day(d: date) -> date:
    """The last trading day strictly before `d`."""
    d -= timedelta(days=1)
    while not is_trading_day(d):
        d -= timedelta(days=1)
    return d


def next_trading_day(d: date) -> date:
    """The first trading day strictly after `d`."""
    d += timedelta(days=1)
    while not is_trading_day(d):
        d += timedelta(days=1)
    return d


def last_trading_day(d: date) -> date:
    """`d` itself if it trades, else the trading day before it."""
    return d if is_trading_day(d) else previous_trading_day(d)


def trading_days_before(d: date, n: int) -> list[date]:
    """The `n` trading days strictly before `d`, oldest first.

    Raises:
        ValueError: If `n` is negative.
    """
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    days: list[date] = []
    cur = d
    for _ in range(n):
        cur = previous_trading_day(cur)
        days.append(cur)
    days.reverse()
    return days


def session_bounds(d: date) -> tuple[datetime, datetime, datetime, datetime]:
    """The session boundaries of a trading day as aware ET datetimes.

    Returns:
        (pre-market start 04:00, open 09:30, close 16:00 or 13:00 on half days,
        after-hours end 20:00 or 17:00 on half days, i.e. four hours after an early close).

    Raises:
        ValueError: If `d` is not a trading day.
    """
    if not is_trading_day(d):
        raise ValueError(f"{d} is not a trading day")
    half = early_close(d)
    close = datetime.combine(d, half if half is not None else CLOSE, tzinfo=ET)
    after_end = (
        close + _EARLY_AFTER_HOURS
        if half is not None
        else datetime.combine(d, AFTER_CLOSE, tzinfo=ET)
    )
    return (
        datetime.combine(d, PRE_OPEN, tzinfo=ET),
        datetime.combine(d, OPEN, tzinfo=ET),
        close,
        after_end,
    )


def _to_et(ts: datetime) -> datetime:
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError("a timezone-aware datetime is required")
    return ts.astimezone(ET)


def session_at(ts: datetime) -> Session:
    """The market session at an aware instant (any time zone).

    Raises:
        ValueError: If `ts` is naive.
    """
    local = _to_et(ts)
    d = local.date()
    if not is_trading_day(d):
        return Session.CLOSED
    pre, open_, close, after_end = session_bounds(d)
    if pre <= local < open_:
        return Session.PRE
    if open_ <= local < close:
        return Session.OPEN
    if close <= local < after_end:
        return Session.AFTER
    return Session.CLOSED


def next_open(ts: datetime) -> datetime:
    """The next regular 09:30 ET open at or after `ts`'s moment, as an aware ET datetime.

    That is `ts`'s own day's open when `ts` precedes it on a trading day, else the open of the
    next trading day.

    Raises:
        ValueError: If `ts` is naive.
    """
    local = _to_et(ts)
    d = local.date()
    today_open = datetime.combine(d, OPEN, tzinfo=ET)
    if is_trading_day(d) and local < today_open:
        return today_open
    return datetime.combine(next_trading_day(d), OPEN, tzinfo=ET)


def current_trading_day(ts: datetime) -> date:
    """The trading day whose data is current at `ts`.

    From 04:00 ET on a trading day, that day; before 04:00, or on a closed day, the trading day
    before (whose final numbers are what a trader sees).
    """
    local = _to_et(ts)
    d = local.date()
    if is_trading_day(d) and local.time() >= PRE_OPEN:
        return d
    return previous_trading_day(d)
