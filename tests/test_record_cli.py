"""`momoscan record`: every kind's figures from a database's history, as text, JSON and a
self-contained HTML page; usage and database errors exit 2."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest

from momoscan import market_hours as mh
from momoscan.cli import main
from momoscan.engine.outcomes import update
from momoscan.store import Store

DAYS = [date(2026, 11, d) for d in (16, 17, 18, 19, 20)]
#: Moves to the close of the movers each day (percent): 12 a day, 4 of them >= 5%.
MOVES = [-6.0, -3.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 10.0, 20.0]


def at(day: date, hh: int, mm: int) -> float:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=mh.ET).timestamp()


def fill(path: Path, *, demo: bool = True) -> None:
    """A database with five days of top-mover entrants, each measured: 60 signals, 20 of
    them up >= 5% by the close; and one rule alert of the last day."""
    with Store(path) as store:
        store.set_meta("mode", "demo" if demo else "live")
        for day in DAYS:
            rows = []
            events = []
            for n, move in enumerate(MOVES):
                symbol = f"S{n:02d}"
                rows += [
                    (symbol, int(at(day, 10, 0)), 10.0),
                    (symbol, int(at(day, 15, 55)), round(10.0 * (1 + move / 100), 4)),
                ]
                events.append(
                    (day.isoformat(), "scanner", "Top movers", symbol, at(day, 10, 1), "m",
                     10.0, 3.0, None, None)
                )  # fmt: skip
            if day == DAYS[-1]:
                events.append(
                    (day.isoformat(), "symbol=*;new_high=True", "", "S00", at(day, 10, 2), "m",
                     10.0, 3.0, None, None)
                )  # fmt: skip
            with store.transaction() as conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO quote_history (symbol, ts, price, volume) "
                    "VALUES (?, ?, ?, 0)",
                    rows,
                )
                store.record_events(events)
            update(store, now=at(day, 10, 5), tiers=("large",), min_price=1.0)
        update(store, now=at(date(2026, 11, 24), 17, 0), tiers=("large",), min_price=1.0)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "demo.db"
    fill(path)
    return path


def test_text_report_gives_each_kinds_figures_and_plot(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["record", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "SIMULATED market" in out
    assert "TOP  entered the top movers" in out
    assert "60 signals: 60 measured at the close, 0 unmeasured, 0 pending" in out
    assert "badge: TOP · 20/60 ≥5% by close" in out
    # The close's row: 60 measured, 20 hits, median +2.5, worst -6.0, best +20.0.
    assert "close             60   20 (33%)    +2.5    -6.0   +20.0" in out
    assert "HOD  alert rule: new high of the day" in out
    assert "badge: none until 10 are measured" in out
    assert "┤" in out  # plotext's axis: a plot was drawn
    assert main(["record", "--db", str(db), "--no-plot", "--move-pct", "10"]) == 0
    out = capsys.readouterr().out
    assert "badge: TOP · 10/60 ≥10% by close" in out
    assert "┤" not in out


def test_json_and_html(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "record.html"
    assert main(["record", "--db", str(db), "--json", "--html", str(page)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["simulated"] is True
    movers = next(k for k in data["kinds"] if k["kind"] == "movers")
    assert (movers["measured"], movers["hits"]) == (60, 20)
    assert movers["horizons"]["worst"]["measured"] == 60
    assert movers["badge"] == "TOP · 20/60 ≥5% by close"
    assert sorted(movers["moves_to_close_pct"]) == pytest.approx(sorted(MOVES * 5))
    html = page.read_text(encoding="utf-8")
    assert html.count("<svg") == 2 and "<rect" in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "<script" not in html


def test_since_keeps_later_days(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["record", "--db", str(db), "--json", "--since", "2026-11-20"]) == 0
    data = json.loads(capsys.readouterr().out)
    movers = next(k for k in data["kinds"] if k["kind"] == "movers")
    assert movers["measured"] == 12


def test_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["record", "--db", str(tmp_path / "none.db")]) == 2
    assert "no database at" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main(["record", "--since", "yesterday"])
    assert stop.value.code == 2
    empty = tmp_path / "empty.db"
    Store(empty).close()
    assert main(["record", "--db", str(empty)]) == 0
    assert "No signal recorded yet" in capsys.readouterr().out


def test_histogram_bins_never_straddle_the_threshold() -> None:
    from momoscan.record_plot import histogram, svg_histogram

    low, step, counts = histogram(MOVES, 4, 5.0)
    edges = [low + i * step for i in range(len(counts) + 1)]
    assert any(abs(e - 5.0) < 1e-9 for e in edges)
    assert sum(counts) == len(MOVES)
    hits = sum(n for i, n in enumerate(counts) if edges[i] >= 5.0 - 1e-9)
    assert hits == sum(1 for m in MOVES if m >= 5.0)
    svg = svg_histogram(MOVES, threshold=5.0)
    assert svg.count('fill="#2e9e5b"') >= 1 and "+5.0%" in svg
