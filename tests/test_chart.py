"""The drawing of sparklines and of the day chart, and the demo's session so far."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from momoscan import format as fmt
from momoscan import market_hours as mh
from momoscan.clock import FixedClock
from momoscan.simulated.history import session_rows, store_history
from momoscan.store import Store
from momoscan.tui.widgets.chart import ChartData, draw_chart
from momoscan.tui.widgets.spark import SparkData, spark_text

DAY = date(2026, 11, 20)
OPEN = int(datetime(2026, 11, 20, 9, 30, tzinfo=mh.ET).timestamp())


def test_a_sparkline_is_its_width_and_coloured_by_the_previous_close() -> None:
    text = spark_text([10.0, 11.0, 9.0, 12.0], prev_close=10.5, width=10)
    assert text.cell_len == 10 and text.plain.startswith("▃▆▁█")
    styles = [str(span.style) for span in text.spans]
    assert styles == ["red", "green", "red", "green"]
    # More points than cells: each cell is the last price of its share; the close ends it.
    many = spark_text([float(x) for x in range(100)], prev_close=None, width=10)
    assert many.plain == "▁▂▃▃▄▅▆▆▇█" and str(many.spans[0].style) == "cyan"
    assert spark_text([], None, 10).plain == " " * 10
    assert spark_text([5.0, 5.0], 5.0, 4).plain == "▄▄  "  # flat: mid-height


def test_a_streamed_trade_moves_the_newest_point_or_adds_one() -> None:
    spark = SparkData((1.0, 2.0), OPEN + 300, 1.0)
    assert spark.with_trade(3.0, OPEN + 420).prices == (1.0, 3.0)
    later = spark.with_trade(4.0, OPEN + 600)
    assert later.prices == (1.0, 2.0, 4.0) and later.last_ts == OPEN + 600
    assert spark.with_trade(9.0, OPEN + 10) is spark  # older than the newest point


def data(prices: list[float], prev_close: float | None) -> ChartData:
    times = tuple(OPEN + 300 * i for i in range(len(prices)))
    return ChartData(
        times, tuple(prices), tuple(1000 * (i + 1) for i in range(len(prices))), prev_close, DAY
    )


def test_the_chart_fills_its_size_and_marks_the_previous_close() -> None:
    chart = data([10.0, 10.4, 10.2, 10.9, 11.3, 11.0], prev_close=10.5)
    for width, height in ((78, 18), (120, 30), (196, 54), (40, 8)):
        lines = draw_chart(chart, width, height)
        assert len(lines) == height and all(line.cell_len == width for line in lines)
    lines = draw_chart(chart, 78, 18)
    text = "\n".join(line.plain for line in lines)
    assert fmt.price(10.5) in text and fmt.price(11.0) in text  # the close and the last
    assert fmt.price(11.3) in text and fmt.price(10.0) in text  # the range on record
    assert "09:30" in text and "16:00" in text and lines[-1].plain.rstrip().endswith("ET")
    close_row = next(line for line in lines if fmt.price(10.5) in line.plain)
    assert any(str(span.style) == "yellow" for span in close_row.spans)
    assert any("█" in line.plain for line in lines)  # the volume bars


def test_a_gap_larger_than_the_days_range_points_to_the_close() -> None:
    lines = draw_chart(data([20.0, 20.5, 19.8, 20.2], prev_close=12.0), 78, 18)
    text = "\n".join(line.plain for line in lines)
    assert "↓12.00" in text
    assert not any("⠉" * 20 in line.plain for line in lines)  # no dotted line across


def test_no_samples_says_so() -> None:
    lines = draw_chart(None, 60, 10)
    assert len(lines) == 10 and lines[0].plain.startswith("No intraday prices")


def test_the_demo_starts_with_the_session_so_far(tmp_path: Path) -> None:
    from momoscan.simulated.market import SimMarket

    clock = FixedClock(datetime(2026, 11, 20, 11, 32, tzinfo=mh.ET))
    market = SimMarket(7, 60, clock)
    rows = session_rows(market, ["small", "mid", "large"])
    with Store(tmp_path / "demo.db") as store:
        written = store_history(store, rows)
        stamps = [row[0] for row in store.conn.execute("SELECT DISTINCT ts FROM quote_history")]
        symbols = store.conn.execute("SELECT COUNT(DISTINCT symbol) FROM quote_history").fetchone()
        # Again (a restart): what is stored stays.
        assert store_history(store, rows) == 0
    # 09:30 to 11:30: 24 completed five-minute buckets; the 11:30 one is the sweep's.
    assert sorted(stamps) == [OPEN + 300 * i for i in range(24)]
    assert written == len(rows) == 24 * symbols[0] and symbols[0] > 10
    tiers = {s.symbol: s.cap_tier for s in market.securities}
    assert {tiers[r[0]] for r in rows} <= {"small", "mid", "large"}
