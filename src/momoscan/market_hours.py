"""The NYSE trading calendar and session clock, in US Eastern time.

Holidays are computed by rule (modern NYSE rules, good from 1998 on) plus a short table of
one-off closures, so the calendar never needs a yearly update. Stdlib only.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
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
#: After-hours trading ends four hours after an early close rather than at 20:00.
_EARLY_AFTER_CLOSE = time(17, 0)

# Unscheduled closures (mourning days, weather, 9/11) that no rule can produce.
_ONE_OFF_CLOSURES: dict[date, str] = {
    date(1994, 4, 27): "National Day of Mourning (Nixon)",
    date(2001, 9, 11): "September 11 attacks",
    date(2001, 9, 12): "September 11 attacks",
    date(2001, 9, 13): "September 11 attacks",
    date(2001, 9, 14): "September 11 attacks",
    date(2004, 6, 11): "National Day of Mourning (Reagan)",
    date(2007, 1, 2): "National Day of Mourning (Ford)",
    date(2012, 10, 29): "Hurricane Sandy",
    date(2012, 10, 30): "Hurricane Sandy",
    date(2018, 12, 5): "National Day of Mourning (G. H. W. Bush)",
    date(2025, 1, 9): "National Day of Mourning (Carter)",
}

_MONDAY, _TUESDAY, _THURSDAY, _FRIDAY, _SATURDAY, _SUNDAY = 0, 1, 3, 4, 5, 6


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th (1-based) given weekday of a month."""
    first = date(year, month, 1)
    offset = (weekday - first.weekday()) % 7
    return first + timedelta(days=offset + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    """The last given weekday of a month."""
    next_month = date(year + month // 12, month % 12 + 1, 1)
    last = next_month - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _easter(year: int) -> date:
    """Western Easter Sunday by the anonymous Gregorian (Meeus/Jones/Butcher) algorithm."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _observed(d: date) -> date:
    """Shift a fixed-date holiday off the weekend: Saturday to Friday, Sunday to Monday."""
    if d.weekday() == _SATURDAY:
        return d - timedelta(days=1)
    if d.weekday() == _SUNDAY:
        return d + timedelta(days=1)
    return d


@functools.lru_cache(maxsize=64)
def _holidays_cached(year: int) -> Mapping[date, str]:
    days: dict[date, str] = {}

    # NYSE rule 7.2: a Saturday New Year's Day is not made up on the Friday before, because that
    # Friday is the last trading day of the prior year and closing it would break year-end books.
    new_year = date(year, 1, 1)
    if new_year.weekday() != _SATURDAY:
        days[_observed(new_year)] = "New Year's Day"
    if year >= 1998:
        days[_nth_weekday(year, 1, _MONDAY, 3)] = "Martin Luther King Jr. Day"
    days[_nth_weekday(year, 2, _MONDAY, 3)] = "Washington's Birthday"
    days[_easter(year) - timedelta(days=2)] = "Good Friday"
    days[_last_weekday(year, 5, _MONDAY)] = "Memorial Day"
    if year >= 2022:
        days[_observed(date(year, 6, 19))] = "Juneteenth"
    days[_observed(date(year, 7, 4))] = "Independence Day"
    days[_nth_weekday(year, 9, _MONDAY, 1)] = "Labor Day"
    days[_nth_weekday(year, 11, _THURSDAY, 4)] = "Thanksgiving Day"
    days[_observed(date(year, 12, 25))] = "Christmas Day"

    days.update({d: name for d, name in _ONE_OFF_CLOSURES.items() if d.year == year})
    # Read-only view: the cache is shared, so no caller may mutate it.
    return MappingProxyType(days)


def holidays(year: int) -> dict[date, str]:
    """Full-day NYSE closures in a year, mapped to their names.

    Args:
        year: The calendar year.

    Returns:
        A fresh dict (safe to mutate) of closure dates within `year`. Weekend-observed holidays
        appear on the weekday they are observed; a Saturday New Year's Day has no entry.
    """
    return dict(_holidays_cached(year))


def is_trading_day(d: date) -> bool:
    """Whether the NYSE holds a regular session on `d`."""
    return d.weekday() < _SATURDAY and d not in _holidays_cached(d.year)


def early_close(d: date) -> time | None:
    """The 13:00 early close if `d` is a half day, else None (also None for non-trading days).

    Half days: the day after Thanksgiving, Christmas Eve, and July 3 when July 4 falls Tue-Fri.
    """
    if not is_trading_day(d):
        return None
    if d == _nth_weekday(d.year, 11, _THURSDAY, 4) + timedelta(days=1):
        return EARLY_CLOSE
    if d.month == 12 and d.day == 24:
        return EARLY_CLOSE
    # When July 4 is a Monday, July 3 is a Sunday; when it is a Saturday, July 3 is the holiday.
    if d.month == 7 and d.day == 3 and _TUESDAY <= date(d.year, 7, 4).weekday() <= _FRIDAY:
        return EARLY_CLOSE
    return None


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
        after-hours end 20:00 or 17:00 on half days).

    Raises:
        ValueError: If `d` is not a trading day.
    """
    if not is_trading_day(d):
        raise ValueError(f"{d} is not a trading day")
    half = early_close(d)
    close = half if half is not None else CLOSE
    after_end = _EARLY_AFTER_CLOSE if half is not None else AFTER_CLOSE
    return (
        datetime.combine(d, PRE_OPEN, tzinfo=ET),
        datetime.combine(d, OPEN, tzinfo=ET),
        datetime.combine(d, close, tzinfo=ET),
        datetime.combine(d, after_end, tzinfo=ET),
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
