"""The scanner's entries come from the store's rankings, never from a screen: a name entering
the top movers or top volume is announced once, against the previous look kept in the
database; nothing fires without a comparable previous look or for a name momoscan had no
earlier price for; the options top 10's NEW entrants once a day (issue 24, item 1)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from momoscan import entrants
from momoscan import market_hours as mh
from momoscan.models import AlertEvent, Quote, Ticker
from momoscan.queries import alerts_on
from momoscan.store import Store

DAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 11, 30, tzinfo=mh.ET).timestamp()
#: One sample period of `quote_history` in the session (seconds).
PERIOD = 300
TIERS = ["small", "mid"]
#: Twelve names: AAA..LLL, so that one can rise into the top 10 and another leave it.
NAMES = [c * 3 for c in "ABCDEFGHIJKL"]


def quote(symbol: str, change: float, volume: int, ts: float) -> Quote:
    price = 10.0
    return Quote(
        symbol,
        price,
        prev_close=price / (1 + change / 100),
        change_pct=change,
        volume=volume,
        avg_volume=1000,
        market_open=True,
        quote_ts=int(ts),
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "e.db"
    tickers = [Ticker(s, f"{s} Inc", "NASDAQ", "XNGS", "small") for s in NAMES]
    tickers.append(Ticker("BIG", "Big Corp", "NYSE", "XNYS", "mega"))  # outside the tiers
    with Store(path) as store:
        store.replace_universe(tickers, source="test", as_of=DAY, fetched_at=NOW)
    return path


def put(
    path: Path, changes: dict[str, float], ts: float, volumes: dict[str, int] | None = None
) -> None:
    """Quotes at `ts`: % change by symbol; volume 1,000 unless `volumes` says otherwise."""
    volumes = volumes or {}
    with Store(path) as store:
        store.store_quotes(
            [quote(s, c, volumes.get(s, 1000), ts) for s, c in changes.items()], fetched_at=ts
        )


def look(path: Path, now: float, tiers: list[str] = TIERS) -> list[AlertEvent]:
    """One look on a connection of its own, as another process would make it."""
    with Store(path) as store:
        return entrants.detect(store, tiers=tiers, min_price=1.0, now=now)


def session(path: Path) -> dict[str, float]:
    """Two sample periods of a session: AAA..JJJ move most, KKK and LLL least."""
    changes = {s: 20.0 - i for i, s in enumerate(NAMES)}  # AAA +20% .. LLL +9%
    put(path, changes, NOW - 2 * PERIOD)
    put(path, changes, NOW - PERIOD)
    return changes


def test_the_first_look_sets_the_baseline_and_an_entry_fires_once(db: Path) -> None:
    changes = session(db)
    assert look(db, NOW - PERIOD) == []  # nothing to compare with yet
    changes["LLL"] = 35.0  # rises to #1
    put(db, changes, NOW)
    events = look(db, NOW)
    moves = [e for e in events if e.name == "Top movers"]
    assert [e.symbol for e in moves] == ["LLL"]
    assert moves[0].rule == entrants.SCANNER
    assert moves[0].message.startswith("LLL entered the top movers (#1): +35.00% at 10.00")
    assert moves[0].at == NOW and moves[0].day == DAY
    assert look(db, NOW + 1) == []  # the same top 10: nothing new
    stored = [(e.name, e.symbol) for e in alerts_on(Store(db), DAY)]
    assert stored == [("Top movers", "LLL")]


def test_a_name_entering_the_top_volume_fires_with_its_volume(db: Path) -> None:
    changes = session(db)
    look(db, NOW - PERIOD)
    put(db, changes, NOW, volumes={"KKK": 50_000})
    events = look(db, NOW)
    assert [e.symbol for e in events if e.name == "Top volume"] == ["KKK"]
    assert "50.0K shares" in events[-1].message


def test_no_entry_against_a_look_that_is_old_of_another_day_or_from_a_later_clock(
    db: Path,
) -> None:
    changes = session(db)
    look(db, NOW - PERIOD - entrants.BASELINE_MAX_AGE - 1)  # an app closed long ago
    changes["LLL"] = 35.0
    put(db, changes, NOW)
    assert look(db, NOW) == []  # the old look only set a new baseline
    changes["KKK"] = 40.0
    put(db, changes, NOW + 60)
    look(db, NOW + 7200)  # a look from a later (simulated) clock
    assert look(db, NOW + 60) == []  # the clock went back: a baseline, not a comparison


def test_other_filters_than_the_last_look_set_a_baseline(db: Path) -> None:
    changes = session(db)
    look(db, NOW - PERIOD, tiers=["mega"])
    changes["LLL"] = 35.0
    put(db, changes, NOW)
    assert look(db, NOW) == []


def test_a_name_in_its_first_sample_period_does_not_enter(db: Path) -> None:
    """Its rank before was unknown, not low: a live run's first sweep brings names in."""
    changes = session(db)
    look(db, NOW - PERIOD)
    put(db, {"NEW": 50.0}, NOW)  # not in the universe: never ranked
    with Store(db) as store:
        store.replace_universe(
            [
                *[Ticker(s, f"{s} Inc", "NASDAQ", "XNGS", "small") for s in NAMES],
                Ticker("NEW", "New Inc", "NASDAQ", "XNGS", "small"),
            ],
            source="test",
            as_of=DAY,
            fetched_at=NOW,
        )
    put(db, {"NEW": 50.0}, NOW)
    assert [e.symbol for e in look(db, NOW)] == []  # one sample of the session: no entry
    put(db, {"NEW": 50.0}, NOW + PERIOD)
    changes["LLL"] = 60.0
    put(db, changes, NOW + PERIOD)
    found = [e.symbol for e in look(db, NOW + PERIOD) if e.name == "Top movers"]
    assert found == ["LLL"]  # NEW is in the baseline now; LLL entered


def test_two_processes_on_one_database_announce_an_entry_once(db: Path) -> None:
    changes = session(db)
    look(db, NOW - PERIOD)
    changes["LLL"] = 35.0
    put(db, changes, NOW)
    first = look(db, NOW)
    second = look(db, NOW + 2)
    assert [e.symbol for e in first] == ["LLL"] and second == []


def test_options_entrants_once_a_day(db: Path) -> None:
    from momoscan.models import Leader

    day = date(2026, 11, 19)
    leader = Leader(day, 3, "TSLA", 900_000, 500_000, 400_000, True, 1, None, 3.1, "first time")
    with Store(db) as store:
        store.store_leaders(day, [leader])
    events = look(db, NOW)
    assert [(e.name, e.symbol) for e in events] == [("Options top 10", "TSLA")]
    assert "new in the daily options top 10 (2026-11-19, #3)" in events[0].message
    assert look(db, NOW + 10) == []


def test_names_swapping_at_the_edge_are_announced_once_per_half_hour(db: Path) -> None:
    """Two names trading places at #10 every minute at unchanged prices: each entry once in
    half an hour, not one each swap (found by a new user's demo session: the same name twice
    at the same price)."""
    changes = session(db)
    look(db, NOW - PERIOD)
    found: list[tuple[str, float]] = []
    swaps = int(entrants.REANNOUNCE_AFTER // 60) + 4
    for k in range(swaps):
        at = NOW + 60 * k
        leader, other = ("KKK", "JJJ") if k % 2 == 0 else ("JJJ", "KKK")
        changes[leader], changes[other] = 11.5, 11.0
        put(db, changes, at)
        found += [(e.symbol, e.at - NOW) for e in look(db, at)]
    assert found == [
        ("KKK", 0),
        ("JJJ", 60),
        ("KKK", entrants.REANNOUNCE_AFTER),
        ("JJJ", entrants.REANNOUNCE_AFTER + 60),
    ]


def test_a_look_that_ranked_far_fewer_names_is_no_baseline(tmp_path: Path) -> None:
    """A run that quoted a few names of the session (a sweep cut short; a demo restarted at
    an earlier time, its later quotes dropped) leaves a board of those few: when the rest are
    quoted, none of them "entered"."""
    path = tmp_path / "c.db"
    names = [f"N{i:02d}" for i in range(40)]
    with Store(path) as store:
        store.replace_universe(
            [Ticker(s, f"{s} Inc", "NASDAQ", "XNGS", "small") for s in names],
            source="test",
            as_of=DAY,
            fetched_at=NOW,
        )
    moves = {s: 40.0 - i for i, s in enumerate(names)}  # N00 moves most
    # Two sample periods of the whole session, then the restart's partial look: 12 names.
    put(path, moves, NOW - 3 * PERIOD)
    put(path, moves, NOW - 2 * PERIOD)
    with Store(path) as store:
        store.forget_after(NOW - 2 * PERIOD - 1, DAY)
    partial = {s: moves[s] for s in names[-12:]}
    put(path, partial, NOW - PERIOD)
    assert look(path, NOW - PERIOD) == []
    # All 40 quoted again: the real top 10 are back, and none "entered".
    put(path, moves, NOW)
    assert look(path, NOW) == []
    # With a baseline of the whole board, a real entry still fires.
    moves["N39"] = 99.0
    put(path, moves, NOW + PERIOD)
    fired = look(path, NOW + PERIOD)
    assert {e.symbol for e in fired} == {"N39"}
