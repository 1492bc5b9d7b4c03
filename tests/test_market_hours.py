"""Tests for the NYSE calendar and session clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

import pytest

from momoscan import market_hours as mh
from momoscan.models import Session


def _et(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=mh.ET)


def _utc(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


# --- holidays -------------------------------------------------------------------------------


def test_holidays_2026_exact() -> None:
    assert set(mh.holidays(2026)) == {
        date(2026, 1, 1),
        date(2026, 1, 19),
        date(2026, 2, 16),
        date(2026, 4, 3),
        date(2026, 5, 25),
        date(2026, 6, 19),
        date(2026, 7, 3),
        date(2026, 9, 7),
        date(2026, 11, 26),
        date(2026, 12, 25),
    }


def test_holidays_2026_names() -> None:
    h = mh.holidays(2026)
    assert h[date(2026, 7, 3)] == "Independence Day"
    assert h[date(2026, 4, 3)] == "Good Friday"
    assert h[date(2026, 11, 26)] == "Thanksgiving Day"


def test_holidays_2025_exact() -> None:
    assert set(mh.holidays(2025)) == {
        date(2025, 1, 1),
        date(2025, 1, 9),
        date(2025, 1, 20),
        date(2025, 2, 17),
        date(2025, 4, 18),
        date(2025, 5, 26),
        date(2025, 6, 19),
        date(2025, 7, 4),
        date(2025, 9, 1),
        date(2025, 11, 27),
        date(2025, 12, 25),
    }


def test_holidays_2027_new_year_and_christmas_on_saturday() -> None:
    h = mh.holidays(2027)
    assert date(2027, 1, 1) in h  # a Friday
    assert date(2027, 12, 24) in h  # Christmas is a Saturday, observed Friday
    assert date(2027, 12, 25) not in h
    assert not mh.is_trading_day(date(2027, 12, 24))
    assert mh.early_close(date(2027, 12, 24)) is None


def test_saturday_new_year_has_no_make_up() -> None:
    assert date(2022, 1, 1).weekday() == 5
    assert not any(d.month == 1 and d.day <= 3 for d in mh.holidays(2022))
    assert date(2021, 12, 31) not in mh.holidays(2021)
    assert mh.is_trading_day(date(2021, 12, 31))


def test_sunday_new_year_observed_monday() -> None:
    # 2023-01-01 was a Sunday.
    assert date(2023, 1, 2) in mh.holidays(2023)
    assert not mh.is_trading_day(date(2023, 1, 2))


def test_juneteenth_starts_2022_and_shifts() -> None:
    assert date(2021, 6, 18) not in mh.holidays(2021)
    assert date(2021, 6, 21) not in mh.holidays(2021)
    assert date(2022, 6, 20) in mh.holidays(2022)  # June 19 2022 was a Sunday
    assert date(2027, 6, 18) in mh.holidays(2027)  # June 19 2027 is a Saturday


def test_mlk_day_starts_1998() -> None:
    assert date(1997, 1, 20) not in mh.holidays(1997)
    assert date(1998, 1, 19) in mh.holidays(1998)


@pytest.mark.parametrize(
    "good_friday",
    [date(2019, 4, 19), date(2024, 3, 29), date(2025, 4, 18), date(2026, 4, 3), date(2038, 4, 23)],
)
def test_good_friday(good_friday: date) -> None:
    assert mh.holidays(good_friday.year)[good_friday] == "Good Friday"


@pytest.mark.parametrize(
    "closed",
    [date(2012, 10, 29), date(2012, 10, 30), date(2018, 12, 5), date(2025, 1, 9)],
)
def test_one_off_closures(closed: date) -> None:
    assert closed in mh.holidays(closed.year)
    assert not mh.is_trading_day(closed)


def test_holidays_cache_is_not_mutable_by_callers() -> None:
    first = mh.holidays(2026)
    first[date(2026, 3, 3)] = "bogus"
    del first[date(2026, 1, 1)]
    again = mh.holidays(2026)
    assert date(2026, 3, 3) not in again
    assert date(2026, 1, 1) in again
    assert mh.is_trading_day(date(2026, 3, 3))


# --- early closes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "d", [date(2026, 11, 27), date(2026, 12, 24), date(2025, 7, 3), date(2025, 11, 28)]
)
def test_early_close_days(d: date) -> None:
    assert mh.early_close(d) == time(13, 0)


@pytest.mark.parametrize(
    "d",
    [
        date(2026, 7, 2),  # July 3 is the holiday, July 2 is a normal day
        date(2026, 7, 3),  # the holiday itself
        date(2026, 11, 25),
        date(2026, 11, 28),  # Saturday
        date(2026, 12, 23),
        date(2026, 3, 10),
    ],
)
def test_not_early_close(d: date) -> None:
    assert mh.early_close(d) is None


# --- trading-day navigation -----------------------------------------------------------------


def test_is_trading_day() -> None:
    assert mh.is_trading_day(date(2026, 3, 10))
    assert not mh.is_trading_day(date(2026, 3, 14))  # Saturday
    assert not mh.is_trading_day(date(2026, 3, 15))  # Sunday
    assert not mh.is_trading_day(date(2026, 11, 26))


def test_navigation_around_thanksgiving_2026() -> None:
    assert mh.next_trading_day(date(2026, 11, 25)) == date(2026, 11, 27)
    assert mh.previous_trading_day(date(2026, 11, 27)) == date(2026, 11, 25)
    assert mh.last_trading_day(date(2026, 11, 26)) == date(2026, 11, 25)
    assert mh.last_trading_day(date(2026, 11, 27)) == date(2026, 11, 27)
    assert mh.next_trading_day(date(2026, 11, 27)) == date(2026, 11, 30)


def test_navigation_around_good_friday_2026() -> None:
    # Good Friday 2026-04-03 plus the weekend: Thursday 2 to Monday 6.
    assert mh.next_trading_day(date(2026, 4, 2)) == date(2026, 4, 6)
    assert mh.previous_trading_day(date(2026, 4, 6)) == date(2026, 4, 2)
    for d in (date(2026, 4, 3), date(2026, 4, 4), date(2026, 4, 5)):
        assert mh.last_trading_day(d) == date(2026, 4, 2)


def test_previous_and_next_are_strict() -> None:
    d = date(2026, 3, 10)
    assert mh.previous_trading_day(d) == date(2026, 3, 9)
    assert mh.next_trading_day(d) == date(2026, 3, 11)


def test_navigation_across_year_end() -> None:
    assert mh.next_trading_day(date(2026, 12, 31)) == date(2027, 1, 4)
    assert mh.previous_trading_day(date(2027, 1, 4)) == date(2026, 12, 31)


def test_trading_days_before() -> None:
    days = mh.trading_days_before(date(2026, 11, 21), 20)
    assert len(days) == 20
    assert all(mh.is_trading_day(d) for d in days)
    assert days == sorted(days)
    assert len(set(days)) == 20
    assert days[-1] == date(2026, 11, 20)
    # 20 trading days back from Fri Nov 20 with no holidays in between is Mon Oct 26.
    assert days[0] == date(2026, 10, 26)


def test_trading_days_before_skips_holidays_and_excludes_d() -> None:
    days = mh.trading_days_before(date(2026, 11, 30), 3)
    assert days == [date(2026, 11, 24), date(2026, 11, 25), date(2026, 11, 27)]
    assert mh.trading_days_before(date(2026, 11, 30), 0) == []
    with pytest.raises(ValueError):
        mh.trading_days_before(date(2026, 11, 30), -1)


# --- session bounds and clock ---------------------------------------------------------------


def test_session_bounds_normal_day() -> None:
    bounds = mh.session_bounds(date(2026, 3, 10))
    assert bounds == (
        _et(2026, 3, 10, 4),
        _et(2026, 3, 10, 9, 30),
        _et(2026, 3, 10, 16),
        _et(2026, 3, 10, 20),
    )
    # 09:30 EDT is 13:30 UTC.
    assert bounds[1].astimezone(UTC) == _utc(2026, 3, 10, 13, 30)


def test_session_bounds_early_close_day() -> None:
    assert mh.session_bounds(date(2026, 11, 27)) == (
        _et(2026, 11, 27, 4),
        _et(2026, 11, 27, 9, 30),
        _et(2026, 11, 27, 13),
        _et(2026, 11, 27, 17),
    )


@pytest.mark.parametrize("d", [date(2026, 3, 14), date(2026, 11, 26)])
def test_session_bounds_rejects_non_trading_day(d: date) -> None:
    with pytest.raises(ValueError):
        mh.session_bounds(d)


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        # Normal winter (EST, UTC-5) day: Monday 2026-01-05.
        (_utc(2026, 1, 5, 8, 59), Session.CLOSED),  # 03:59 EST
        (_utc(2026, 1, 5, 9, 0), Session.PRE),  # 04:00 EST
        (_utc(2026, 1, 5, 14, 29), Session.PRE),  # 09:29 EST
        (_utc(2026, 1, 5, 14, 30), Session.OPEN),  # 09:30 EST
        (_utc(2026, 1, 5, 20, 59), Session.OPEN),  # 15:59 EST
        (_utc(2026, 1, 5, 21, 0), Session.AFTER),  # 16:00 EST
        (_utc(2026, 1, 6, 0, 59), Session.AFTER),  # 19:59 EST
        (_utc(2026, 1, 6, 1, 0), Session.CLOSED),  # 20:00 EST
        # Summer (EDT, UTC-4), first trading day after the DST switch: Monday 2026-03-09.
        (_utc(2026, 3, 9, 7, 59), Session.CLOSED),  # 03:59 EDT
        (_utc(2026, 3, 9, 8, 0), Session.PRE),  # 04:00 EDT
        (_utc(2026, 3, 9, 13, 29), Session.PRE),  # 09:29 EDT
        (_utc(2026, 3, 9, 13, 30), Session.OPEN),  # 09:30 EDT
        (_utc(2026, 3, 9, 14, 30), Session.OPEN),  # 10:30 EDT (would be PRE+1h if EST)
        (_utc(2026, 3, 9, 19, 59), Session.OPEN),  # 15:59 EDT
        (_utc(2026, 3, 9, 20, 0), Session.AFTER),  # 16:00 EDT
        (_utc(2026, 3, 9, 23, 59), Session.AFTER),  # 19:59 EDT
        (_utc(2026, 3, 10, 0, 0), Session.CLOSED),  # 20:00 EDT
        # Early-close day (EST): day after Thanksgiving 2026-11-27.
        (_et(2026, 11, 27, 9, 29), Session.PRE),
        (_et(2026, 11, 27, 12, 59), Session.OPEN),
        (_et(2026, 11, 27, 13, 0), Session.AFTER),
        (_et(2026, 11, 27, 16, 59), Session.AFTER),
        (_et(2026, 11, 27, 17, 0), Session.CLOSED),
        (_utc(2026, 11, 27, 18, 0), Session.AFTER),  # 13:00 EST
        (_utc(2026, 11, 27, 22, 0), Session.CLOSED),  # 17:00 EST
        # Saturday and a holiday: closed all day.
        (_et(2026, 3, 14, 10, 0), Session.CLOSED),
        (_et(2026, 3, 14, 5, 0), Session.CLOSED),
        (_et(2026, 11, 26, 5, 0), Session.CLOSED),
        (_et(2026, 11, 26, 10, 0), Session.CLOSED),
        (_et(2026, 11, 26, 17, 0), Session.CLOSED),
    ],
)
def test_session_at(ts: datetime, expected: Session) -> None:
    assert mh.session_at(ts) is expected


def test_session_at_uses_et_date_not_utc_date() -> None:
    # Tuesday 2026-01-06 00:30 UTC is still Monday 19:30 EST -> AFTER (a UTC-date lookup would
    # put it before Tuesday's pre-market and say CLOSED).
    assert mh.session_at(_utc(2026, 1, 6, 0, 30)) is Session.AFTER
    # Monday 2026-03-16 01:00 UTC is Sunday 21:00 EDT -> CLOSED, not Monday's anything.
    assert mh.session_at(_utc(2026, 3, 16, 1, 0)) is Session.CLOSED


@pytest.mark.parametrize("fn", [mh.session_at, mh.next_open])
def test_naive_datetime_raises(fn: Callable[[datetime], object]) -> None:
    with pytest.raises(ValueError):
        fn(datetime(2026, 3, 10, 10, 0))


# --- next_open ------------------------------------------------------------------------------


def test_next_open_same_day_before_open() -> None:
    assert mh.next_open(_et(2026, 3, 10, 8, 0)) == _et(2026, 3, 10, 9, 30)
    # 2026-03-09 12:00 UTC is 08:00 EDT.
    got = mh.next_open(_utc(2026, 3, 9, 12, 0))
    assert got == _et(2026, 3, 9, 9, 30)
    assert got.tzinfo is not None


def test_next_open_at_or_after_open_goes_to_next_day() -> None:
    assert mh.next_open(_et(2026, 3, 10, 9, 30)) == _et(2026, 3, 11, 9, 30)
    assert mh.next_open(_et(2026, 3, 10, 18, 0)) == _et(2026, 3, 11, 9, 30)


def test_next_open_skips_weekend_and_holiday() -> None:
    assert mh.next_open(_et(2026, 4, 2, 17, 0)) == _et(2026, 4, 6, 9, 30)
    assert mh.next_open(_et(2026, 11, 26, 8, 0)) == _et(2026, 11, 27, 9, 30)
    assert mh.next_open(_et(2026, 3, 14, 8, 0)) == _et(2026, 3, 16, 9, 30)


def test_next_open_is_strictly_after() -> None:
    ts = _et(2026, 3, 10, 9, 30) - timedelta(microseconds=1)
    assert mh.next_open(ts) == _et(2026, 3, 10, 9, 30)
    assert mh.next_open(ts) > ts
