"""Filings as a trader reads them (8-K items, kinds, labels, the catalyst mark) and as the
store keeps and the queries map them: the ticker map's share classes, several symbols of one
company, a day's filings by US/Eastern day, Form 4 clusters."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest

from momoscan import market_hours as mh
from momoscan import queries
from momoscan.filings import ITEMS, KINDS, Filing, catalyst_text, describe, kind_of, label
from momoscan.models import Ticker
from momoscan.store import Store

DAY = date(2026, 11, 20)


def et(hh: int, mm: int, day: date = DAY) -> float:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=mh.ET).timestamp()


def filing(
    accession: str,
    cik: int,
    form: str,
    at: float,
    items: tuple[str, ...] = (),
    symbol: str = "",
) -> Filing:
    return Filing(
        accession, cik, symbol, form, items, at, "Co", "https://www.sec.gov/x", kind_of(form, items)
    )


@pytest.mark.parametrize(
    "form, items, kind",
    [
        ("8-K", ("2.02", "9.01"), "results"),
        ("8-K", ("7.01", "2.02"), "results"),
        ("8-K", ("8.01", "9.01"), "news"),
        ("8-K", ("7.01",), "news"),
        ("8-K", ("1.01", "9.01"), "material"),
        ("8-K/A", ("1.01", "3.02", "9.01"), "offering"),
        ("8-K", ("3.01",), "material"),
        ("8-K", ("5.02", "9.01"), "other"),
        ("8-K", (), "other"),
        ("6-K", (), "news"),
        ("S-1", (), "offering"),
        ("S-1/A", (), "offering"),
        ("F-3", (), "offering"),
        ("424B5", (), "offering"),
        ("424B4", (), "offering"),
        ("SC 13D", (), "ownership"),
        ("SC 13G/A", (), "ownership"),
        ("SCHEDULE 13D/A", (), "ownership"),
        ("4", (), "insider"),
        ("4/A", (), "insider"),
        ("10-Q", (), "other"),
        ("D", (), "other"),
    ],
)
def test_kind_of(form: str, items: tuple[str, ...], kind: str) -> None:
    assert kind_of(form, items) == kind
    assert kind in KINDS


def test_items_say_what_a_trader_needs() -> None:
    assert ITEMS["1.01"] == "material agreement" and ITEMS["2.02"] == "results"
    assert "news" in ITEMS["7.01"] and "news" in ITEMS["8.01"]
    assert ITEMS["3.01"] == "delisting notice" and "dilution" in ITEMS["3.02"]
    assert ITEMS["1.03"] == "bankruptcy" and ITEMS["5.02"] == "officer change"


def test_labels_and_the_catalyst_mark() -> None:
    results = filing("a", 1, "8-K", et(9, 46), ("9.01", "2.02"))
    assert label(results) == "8-K 2.02"
    assert describe(results) == "8-K 2.02 exhibits, results"
    assert catalyst_text(results, et(10, 0)) == "8-K 2.02 \u00b7 14m"
    assert label(filing("b", 1, "8-K/A", 0.0, ("5.02",))) == "8-K/A 5.02"
    assert label(filing("c", 1, "S-1", 0.0)) == "S-1"
    form4 = Filing("d", 1, "X", "4", (), 0.0, "Co", "u", "insider", count=3)
    assert label(form4) == "Form 4 \u00d73"
    assert label(filing("e", 1, "4", 0.0)) == "Form 4"


# -- store and queries -----------------------------------------------------------------------


def ticker(symbol: str) -> Ticker:
    return Ticker(symbol, f"{symbol} Inc", "NYSE", "XNYS", "small")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "f.db") as s:
        yield _filled(s)


def _filled(s: Store) -> Store:
    s.replace_universe(
        [ticker(s) for s in ("BRK.B", "GOOG", "GOOGL", "SOBR", "AAPL")],
        source="test",
        as_of=DAY,
        fetched_at=0.0,
    )
    s.replace_sec_tickers(
        [
            (1067983, "BRK-B", "BERKSHIRE HATHAWAY INC", "NYSE"),
            (1067983, "BRK-A", "BERKSHIRE HATHAWAY INC", "NYSE"),
            (1652044, "GOOGL", "Alphabet Inc.", "Nasdaq"),
            (1652044, "GOOG", "Alphabet Inc.", "Nasdaq"),
            (1425627, "SOBR", "SOBR Safe, Inc.", "Nasdaq"),
            (1888001, "QSHL", "Quiet Shell Co", ""),
        ],
        fetched_at=100.0,
    )
    return s


def test_cik_map_in_momoscans_spelling_universe_only(store: Store) -> None:
    assert queries.cik_map(store) == {
        "BRK.B": 1067983,
        "GOOG": 1652044,
        "GOOGL": 1652044,
        "SOBR": 1425627,
    }
    assert queries.cik_map(store, ["QSHL", "BRK.A"]) == {"QSHL": 1888001, "BRK.A": 1067983}


def test_a_failed_read_keeps_the_map(store: Store) -> None:
    assert store.replace_sec_tickers([], fetched_at=500.0) == 0
    assert store.sec_tickers_fetched_at() == 100.0 and queries.cik_map(store)["SOBR"] == 1425627


def test_a_days_filings_by_symbol_with_clusters(store: Store) -> None:
    rows = [
        filing("0001", 1652044, "8-K", et(9, 59), ("2.02", "9.01"), "GOOG"),
        filing("0002", 1425627, "4", et(10, 5), symbol="SOBR"),
        filing("0003", 1425627, "4", et(11, 15), symbol="SOBR"),
        filing("0004", 1425627, "4", et(12, 30), symbol="SOBR"),
        filing("0005", 1425627, "8-K", et(8, 0), ("8.01",), "SOBR"),
        filing("0006", 1067983, "424B5", et(23, 59, date(2026, 11, 19)), symbol="BRK.B"),
        filing("0007", 1067983, "S-1", et(0, 0, date(2026, 11, 21)), symbol="BRK.B"),
    ]
    assert store.store_filings(rows, seen_at=et(12, 30)) == 7
    assert store.store_filings(rows[:2]) == 0  # an accession is stored once
    assert store.filings_seen_at() == et(12, 30)
    day = queries.filings_on(store, DAY)
    assert set(day) == {"GOOG", "GOOGL", "SOBR"}  # one company, both classes
    assert [f.accession for f in day["GOOGL"]] == ["0001"] and day["GOOGL"][0].symbol == "GOOGL"
    sobr = day["SOBR"]
    assert [(f.form, f.count) for f in sobr] == [("4", 3), ("8-K", 1)]
    assert sobr[0].accepted_at == et(12, 30)  # the cluster's newest
    assert label(sobr[0]) == "Form 4 \u00d73" and sobr[1].items == ("8.01",)
    assert [f.form for f in queries.filings_on(store, date(2026, 11, 19))["BRK.B"]] == ["424B5"]
    recent = queries.recent_filings(store, et(10, 0))
    assert set(recent) == {"SOBR", "BRK.B"} and recent["SOBR"][0].count == 3


def test_a_filing_whose_company_left_the_map_keeps_its_symbol(store: Store) -> None:
    store.store_filings([filing("0009", 777, "8-K", et(10, 0), ("7.01",), "AAPL")])
    assert [f.accession for f in queries.filings_on(store, DAY)["AAPL"]] == ["0009"]
