"""Text output for a file or a mail is whole (issue 29, item 3): without a terminal the tables
are as wide as they need (or `COLUMNS`, or `--width`), numbers and share bars are never cut,
and a title is one line wherever the width allows."""

from __future__ import annotations

from pathlib import Path

import pytest

from momoscan.cli import main

TITLES = ("Top gainers ·", "Top losers ·", "Top volume ·", "Options volume ·")


def run(tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> list[str]:
    args = ["--once", "--db", str(tmp_path / "w.db"), "--demo-size", "60", *extra]
    assert main(args) == 0
    return capsys.readouterr().out.splitlines()


def bars(lines: list[str]) -> list[str]:
    """The share column's cells of the options table."""
    start = next(i for i, line in enumerate(lines) if line.startswith("Options volume"))
    rows = [line for line in lines[start:] if line.startswith("│")]
    return [row.split("│")[2] for row in rows[:10]]


def test_without_a_terminal_the_tables_are_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    lines = run(tmp_path, capsys)
    assert not any("…" in line for line in lines)
    for title in TITLES:
        (line,) = [x for x in lines if x.startswith(title)]
        assert line.rstrip().endswith(("old", "(simulated market)")), line  # one line, whole
    blocks = set("▏▎▍▌▋▊▉█")
    assert all(set(cell.strip()) <= blocks for cell in bars(lines)), bars(lines)


def test_columns_and_width_bound_it_and_bars_scale_rather_than_cut(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    lines = run(tmp_path, capsys)
    assert max(len(line) for line in lines) <= 80
    assert bars(lines) and not any("…" in cell for cell in bars(lines))
    monkeypatch.delenv("COLUMNS")
    lines = run(tmp_path, capsys, "--width", "100")
    assert 80 < max(len(line) for line in lines) <= 100


def test_width_needs_once(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--headless", "--width", "100"])
    assert info.value.code == 2 and "--width needs --once" in capsys.readouterr().err


@pytest.mark.parametrize("columns", ["60", "50", "40"])
def test_narrow_output_leaves_columns_out_and_never_cuts_a_number(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    columns: str,
) -> None:
    """At 60 columns and less (a narrow pane, COLUMNS=60 in cron) whole columns give way
    (the rank, the age, RVol, volume), never a number: every cell with a digit is whole."""
    monkeypatch.setenv("COLUMNS", columns)
    lines = run(tmp_path, capsys)
    assert max(len(line) for line in lines) <= int(columns)
    cells = [cell.strip() for line in lines if line.startswith("│") for cell in line.split("│")]
    cut = [c for c in cells if "…" in c and any(ch.isdigit() for ch in c)]
    assert not cut, cut
    header = next(line for line in lines if "Symbol" in line and "% Chg" in line)
    assert "Price" in header  # the price and the change stay to the last
