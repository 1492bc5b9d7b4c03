"""Tests for the NYSE calendar and session clock."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

import pytest

from momoscan import market_hours as mh
from momoscan.models import Session

# The oracle, exchange_calendars, warns about its own use of pandas under pandas 3.
pytestmark = pytest.mark.filterwarnings("ignore:Series.values returning an ndarray")


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
    # Observed on Friday for a Saturday July 4, without the library's " (observed)" suffix.
    assert h[date(2026, 7, 3)] == "Independence Day"
    assert h[date(2026, 4, 3)] == "Good Friday"
    assert h[date(2026, 11, 26)] == "Thanksgiving Day"
    assert all("observed" not in name for name in h.values())


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


def test_july_2002_half_day_was_friday_july_5() -> None:
    # July 4 2002 was a Thursday: the half day was the Friday after, not Wednesday July 3.
    assert mh.is_trading_day(date(2002, 7, 3))
    assert mh.early_close(date(2002, 7, 3)) is None
    assert mh.session_bounds(date(2002, 7, 3))[2] == _et(2002, 7, 3, 16)
    assert mh.session_at(_et(2002, 7, 3, 14)) is Session.OPEN
    assert not mh.is_trading_day(date(2002, 7, 4))
    assert mh.early_close(date(2002, 7, 5)) == time(13, 0)
    assert mh.session_bounds(date(2002, 7, 5)) == (
        _et(2002, 7, 5, 4),
        _et(2002, 7, 5, 9, 30),
        _et(2002, 7, 5, 13),
        _et(2002, 7, 5, 17),
    )
    assert mh.session_at(_et(2002, 7, 5, 12, 59)) is Session.OPEN
    assert mh.session_at(_et(2002, 7, 5, 14)) is Session.AFTER
    assert mh.session_at(_et(2002, 7, 5, 17)) is Session.CLOSED


@pytest.mark.parametrize(
    ("d", "close"),
    [
        (date(1996, 7, 5), time(13, 0)),  # Thursday July 4: Friday after, as in 2002
        (date(1996, 7, 3), None),
        (date(2013, 7, 3), time(13, 0)),  # Thursday July 4 again, but from 2013 the day before
        (date(2013, 7, 5), None),
        (date(2019, 7, 3), time(13, 0)),
        (date(2024, 7, 3), time(13, 0)),
        (date(2024, 7, 5), None),
        (date(2025, 7, 3), time(13, 0)),  # Friday July 4: Thursday before
        (date(2018, 7, 3), time(13, 0)),  # Wednesday July 4: Tuesday before
        (date(2022, 7, 1), None),  # Monday July 4: no half day
        (date(1997, 12, 26), time(13, 0)),  # Friday after a Thursday Christmas, in some years
        (date(2003, 12, 26), time(13, 0)),
        (date(2008, 12, 26), None),
        (date(2014, 12, 26), None),
        (date(1999, 12, 31), time(13, 0)),  # New Year's Eve before Y2K
        (date(2018, 12, 24), time(13, 0)),  # Christmas Eve on a Monday
        (date(2021, 12, 24), None),  # Christmas on a Saturday: closed on the 24th
        (date(2010, 12, 24), None),  # idem
        (date(1992, 12, 24), time(14, 0)),  # before 1993 half days closed at 14:00
        (date(1994, 2, 11), time(14, 30)),  # snowstorm
    ],
)
def test_early_close_history(d: date, close: time | None) -> None:
    assert mh.early_close(d) == close


def test_after_hours_end_four_hours_after_an_irregular_early_close() -> None:
    assert mh.session_bounds(date(1994, 2, 11))[2:] == (
        _et(1994, 2, 11, 14, 30),
        _et(1994, 2, 11, 18, 30),
    )
    assert mh.session_at(_et(1994, 2, 11, 14, 29)) is Session.OPEN
    assert mh.session_at(_et(1994, 2, 11, 14, 30)) is Session.AFTER
    assert mh.session_at(_et(1994, 2, 11, 18, 30)) is Session.CLOSED


def test_early_close_none_on_closed_days() -> None:
    assert mh.early_close(date(2026, 11, 26)) is None  # Thanksgiving
    assert mh.early_close(date(2026, 11, 28)) is None  # Saturday
    assert mh.early_close(date(2027, 12, 24)) is None  # observed Christmas


# --- oracle: exchange_calendars' XNYS, day by day ---------------------------------------------

#: First and last years compared with exchange_calendars. Before 1988 the two libraries model
#: different histories (exchange_calendars puts a 14:00 close on every Christmas Eve before 1993
#: and lacks the shortened sessions after the 1987 crash, among others); exchange_calendars
#: computes nothing past 2100. The years ahead check that both libraries' rules agree.
_ORACLE_FIRST_YEAR = 1988
_ORACLE_LAST_YEAR = 2099

#: Days on which the two libraries are known to differ, with the close momoscan gives (None for
#: closed). February 11 1994: the NYSE closed at 14:30 for a snowstorm (NYSE closings history,
#: as the `holidays` package records); exchange_calendars has a full day. Drop an entry when
#: exchange_calendars learns it: the test requires the differences to be exactly these.
_KNOWN_DIFFERENCES: dict[date, time | None] = {
    date(1994, 2, 11): time(14, 30),
}


@pytest.fixture(scope="module")
def xnys() -> dict[date, tuple[datetime, datetime]]:
    """Every XNYS session in the oracle range: its date -> (open, close) as aware ET datetimes."""
    import exchange_calendars as xc  # test-only: it imports pandas

    cal = xc.get_calendar(
        "XNYS", start=f"{_ORACLE_FIRST_YEAR}-01-01", end=f"{_ORACLE_LAST_YEAR}-12-31"
    )
    schedule = cal.schedule
    return {
        session.date(): (
            opens.tz_convert(mh.ET).to_pydatetime(),
            closes.tz_convert(mh.ET).to_pydatetime(),
        )
        for session, opens, closes in zip(
            schedule.index, schedule["open"], schedule["close"], strict=True
        )
    }


def test_every_day_matches_exchange_calendars_xnys(
    xnys: dict[date, tuple[datetime, datetime]],
) -> None:
    """Closed days, opens and closes (early ones included) agree with XNYS, day by day."""
    differences: dict[date, tuple[object, object]] = {}
    d, last = date(_ORACLE_FIRST_YEAR, 1, 1), date(_ORACLE_LAST_YEAR, 12, 31)
    weekdays = 0
    while d <= last:
        theirs = xnys.get(d)
        if mh.is_trading_day(d):
            _pre, open_, close, _after = mh.session_bounds(d)
            if theirs != (open_, close):
                differences[d] = ((open_, close), theirs)
        elif theirs is not None:
            differences[d] = ("closed", theirs)
        weekdays += d.weekday() < 5
        d += timedelta(days=1)

    assert weekdays > 29_000  # the loop did cover the range
    assert set(differences) == set(_KNOWN_DIFFERENCES), differences
    for day, close in _KNOWN_DIFFERENCES.items():
        if close is None:
            assert not mh.is_trading_day(day)
        else:
            assert mh.early_close(day) == close


def test_oracle_agrees_on_the_documented_instances(
    xnys: dict[date, tuple[datetime, datetime]],
) -> None:
    """The instances above are what exchange_calendars says too, not only what we say."""
    assert xnys[date(2002, 7, 3)][1] == _et(2002, 7, 3, 16)
    assert xnys[date(2002, 7, 5)][1] == _et(2002, 7, 5, 13)
    assert date(2002, 7, 4) not in xnys
    assert xnys[date(2013, 7, 3)][1] == _et(2013, 7, 3, 13)
    assert xnys[date(2026, 11, 27)][1] == _et(2026, 11, 27, 13)
    assert date(2025, 1, 9) not in xnys


def test_the_calendar_never_imports_pandas() -> None:
    """exchange_calendars (pandas) is only the tests' oracle; the run-time calendar is lighter."""
    script = (
        "import sys\n"
        "from datetime import date, datetime\n"
        "import momoscan.market_hours as mh\n"
        "assert 'holidays' not in sys.modules, 'imported with the module'\n"
        "assert mh.is_trading_day(date(2026, 3, 10))\n"
        "mh.session_at(datetime.now(mh.ET))\n"
        "assert 'holidays' in sys.modules\n"
        "bad = {'pandas', 'exchange_calendars'} & set(sys.modules)\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


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
