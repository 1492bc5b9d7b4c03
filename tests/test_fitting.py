"""Text that gives way whole (`tui/widgets/fitting.py`) and columns that give way only when
the width is really short (`fast_table.fit_columns`)."""

from __future__ import annotations

from rich.text import Text

from momoscan.tui.widgets.fast_table import Column, fit_columns
from momoscan.tui.widgets.fitting import HIGH, LOW, MID, MUST, Part, fit, fit_line


def parts() -> list[Part]:
    return [
        # The heading's long form is worth less than the figures: it grows last.
        Part([Text("Options volume · share of the watch set"), Text("Options")], MUST, grow=LOW),
        Part([Text("20 chains, oldest 30s"), Text("20 chains")], HIGH),
        Part([Text("as of 11:29 ET"), Text("11:29")], HIGH),
        Part([Text("Cboe, 15 min delayed"), Text("15 min delayed")], LOW),
        Part([Text("w: whole market"), Text("w: market")], MID),
    ]


def test_a_title_leaves_out_whole_parts_and_never_cuts_a_number() -> None:
    for width in range(8, 140):
        line = fit_line(parts(), width).plain
        assert len(line) <= width, (width, line)
        assert "…" not in line
        for number in ("11:29", "20 chains", "30s", "15 min"):
            # A number is whole or absent: no prefix of it ends the line.
            for n in range(1, len(number)):
                assert not line.endswith(" " + number[:n]) or number[:n] == number, line
    wide = fit_line(parts(), 200).plain
    assert wide == (
        "Options volume · share of the watch set · 20 chains, oldest 30s · as of 11:29 ET"
        " · Cboe, 15 min delayed · w: whole market"
    )
    # Short: the more important parts come first, the least important go.
    assert fit_line(parts(), 60).plain == (
        "Options · 20 chains, oldest 30s · as of 11:29 ET · w: market"
    )
    assert fit_line(parts(), 30).plain == "Options · 20 chains · 11:29"


def test_must_parts_are_cut_only_when_nothing_else_is_left() -> None:
    line = fit_line(parts(), 5)
    assert line.plain.startswith("Options")  # too long for 5: drawn whole, cut by the widget


def test_two_lines_wrap_between_parts_and_a_part_can_start_the_second() -> None:
    two = [
        Part([Text(" LIVE ")], MUST, badge=True),
        Part([Text("Mon 2026-12-07 10:02:22 ET"), Text("10:02:22 ET")], MUST, badge=True),
        Part([Text("of momoscan collect (pid 7)"), Text("of 7")], HIGH, line=2),
        Part([Text("credits 547/610 this min"), Text("cr 547/610")], HIGH),
    ]
    first, second = fit(two, 40)
    assert first.plain == " LIVE  Mon 2026-12-07 10:02:22 ET"
    assert second.plain == "of momoscan collect (pid 7) · cr 547/610"


COLUMNS = [
    Column("rank", "#", 2, "right", priority=0),
    Column("symbol", "Symbol", 6, priority=8),
    Column("name", "Name", 6, flex=True, priority=1),
    Column("trend", "Today", 6, flex=True, priority=2, most=10),
    Column("price", "Price", 6, "right", priority=6),
    Column("change", "% Chg", 7, "right", priority=7),
]
NATURAL = [2, 6, 0, 0, 6, 7]


def test_columns_narrow_their_gaps_before_one_is_left_out() -> None:
    shown, widths, pad = fit_columns(COLUMNS, NATURAL, 200)
    assert shown == [0, 1, 2, 3, 4, 5] and pad == 2
    assert widths[3] == 10  # the sparkline stops at its most; the name takes the rest
    assert sum(widths) + 2 * len(widths) == 200
    # 2+6+6+6+6+7 = 33 cells, 12 of gaps at two a column, 7 at one.
    shown, widths, pad = fit_columns(COLUMNS, NATURAL, 42)
    assert shown == [0, 1, 2, 3, 4, 5] and pad == 1
    shown, widths, pad = fit_columns(COLUMNS, NATURAL, 39)
    assert 0 not in shown and pad == 1  # the rank goes first


def test_a_left_out_column_comes_back_where_it_fits() -> None:
    columns = [
        Column("a", "A", 2, priority=0),
        Column("b", "B", 20, priority=1),
        Column("c", "C", 10, priority=5),
    ]
    # B (20) must go for C to fit in 26, which leaves room for A (2).
    shown, _widths, _pad = fit_columns(columns, [2, 20, 10], 26)
    assert shown == [0, 2]
