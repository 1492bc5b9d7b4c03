"""The README documents every command-line flag, every config key and every key binding."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from momoscan.cli import build_parser
from momoscan.config import field_docs

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_flag_is_in_the_readme() -> None:
    flags = [
        option
        for action in build_parser()._actions  # argparse has no public listing
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    ]
    assert flags
    missing = [flag for flag in flags if f"`{flag}" not in README]
    assert not missing, f"flags missing from README.md: {missing}"


def test_every_serve_flag_is_in_the_readme() -> None:
    from momoscan.serve import build_serve_parser

    flags = [
        option
        for action in build_serve_parser()._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    ]
    section = README[README.index("`momoscan serve`") :]
    missing = [flag for flag in flags if f"`{flag}" not in section]
    assert not missing, f"momoscan serve flags missing from README.md: {missing}"


def test_every_config_key_is_in_the_readme_table() -> None:
    rows = re.findall(r"^\|\s*(`\[\w+\]`)?\s*\|\s*`(\w+)`\s*\|", README, re.M)
    documented: set[tuple[str, str]] = set()
    section = ""
    for section_cell, key in rows:
        if section_cell:
            section = section_cell.strip("`[]")
        documented.add((section, key))
    missing = [
        f"[{section}] {key}"
        for section, keys in field_docs().items()
        for key in keys
        if (section, key) not in documented
    ]
    assert not missing, f"config keys missing from README.md: {missing}"


# ---------------------------------------------------------------------------------------------
# Keys: every screen's bindings in its README table and in its `?` help, and nothing more.


def _keys_section() -> str:
    return README[README.index("### Keys") : README.index("## Command line")]


def _table_keys(heading: str) -> set[str]:
    """The keys listed in the README's table under `**heading**`."""
    section = _keys_section()
    start = section.index(f"**{heading}**")
    following = section.find("\n**", start + 2)
    block = section[start : following if following > 0 else None]
    keys = set()
    for cell in re.findall(r"^\| ([^|]+?) \|", block, re.M):
        if cell in ("key", "---"):
            continue
        for part in cell.split(" / "):
            keys.add(part.strip().strip("`"))
    return keys


def _screens() -> dict[str, object]:
    from datetime import date

    from momoscan.models import Ticker
    from momoscan.tui.screens.alerts import AlertsScreen
    from momoscan.tui.screens.chart import ChartScreen
    from momoscan.tui.screens.contracts import ContractsScreen
    from momoscan.tui.screens.dialogs import SymbolScreen
    from momoscan.tui.screens.history import HistoryScreen
    from momoscan.tui.screens.main import MainScreen
    from momoscan.tui.screens.watchlist import WatchlistScreen
    from momoscan.tui.widgets.chart import ChartData
    from momoscan.tui.widgets.contract_table import ContractData

    return {
        "Main screen": MainScreen(),
        "Drill-down (contracts)": ContractsScreen("SPX", date(2026, 11, 20), ContractData([])),
        "History": HistoryScreen({}, include_etfs=False),
        "Symbol card": SymbolScreen(
            Ticker("AAPL", "Apple Inc", "NASDAQ", "XNGS", "mega"), None, None, lambda: 0.0
        ),
        "Chart screen": ChartScreen("AAPL", None, ChartData((), (), (), None, None), None),
        "Alerts": AlertsScreen(date(2026, 11, 20), [], rules=0),
        "Watchlist": WatchlistScreen([], {}, 0.0),
    }


def test_every_key_of_every_screen_is_in_its_readme_table_and_its_help() -> None:
    from momoscan.tui.app import MomoscanApp
    from momoscan.tui.screens.dialogs import help_rows, key_label

    for heading, screen in _screens().items():
        listed = _table_keys(heading)
        own = {
            key_label(key.strip())
            for binding in type(screen).BINDINGS  # type: ignore[attr-defined]
            for key in binding.key.split(",")
        }
        missing = own - listed
        assert not missing, f"{heading}: keys missing from README.md: {sorted(missing)}"
        extra = {p.strip() for k, _ in getattr(screen, "HELP_EXTRA", ()) for p in k.split(" / ")}
        unknown = listed - own - extra
        assert not unknown, f"{heading}: README.md lists keys it does not have: {unknown}"
        helped = {k for k, _ in help_rows(screen, MomoscanApp.BINDINGS)}  # type: ignore[arg-type]
        assert own <= helped, f"{heading}: keys missing from its ? help: {own - helped}"
        for binding in type(screen).BINDINGS:  # type: ignore[attr-defined]
            assert binding.tooltip or binding.description, binding
    everywhere = _table_keys("Everywhere")
    for binding in MomoscanApp.BINDINGS:
        label = key_label(binding.key)  # type: ignore[union-attr]
        assert label in everywhere, f"key {label!r} missing from README.md's Everywhere table"


# ---------------------------------------------------------------------------------------------
# Claims the README makes about the command line.


def test_the_symbol_counts_agree_with_the_builtin_list() -> None:
    from momoscan.cli import BUILTIN_STOCKS, build_parser
    from momoscan.simulated.universe import real_stocks

    rounded = round(len(real_stocks()), -1)
    assert rounded == BUILTIN_STOCKS
    counts = {int(n) for n in re.findall(r"(?:~|About |about )(\d{3}) (?:built-in )?real", README)}
    assert counts == {rounded}, counts
    helptext = build_parser().format_help()
    assert f"~{rounded} built-in" in " ".join(helptext.split())


def test_exit_code_on_new_entrant_needs_once_as_the_readme_says(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from momoscan.cli import parse_args

    assert "`--exit-code-on-new-entrant` needs `--once`" in " ".join(README.split())
    with pytest.raises(SystemExit) as raised:
        parse_args(["--exit-code-on-new-entrant"])
    assert raised.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--help" in err[0]
    assert parse_args(["--exit-code-on-new-entrant", "--once"]).headless
    assert "`--exit-code-on-alert` needs `--once`" in " ".join(README.split())
    with pytest.raises(SystemExit) as raised:
        parse_args(["--exit-code-on-alert"])
    assert raised.value.code == 2
    assert parse_args(["--exit-code-on-alert", "--once"]).headless


def test_the_quick_start_works_with_any_python_from_3_11() -> None:
    import tomllib

    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert project["project"]["requires-python"] == ">=3.11"
    quick = README[README.index("## Quick start") : README.index("## The screen")]
    assert "Python 3.11 or newer" in quick
    assert not re.search(r"python3\.\d", quick), "the quick start names one Python version"
    assert "python3 -m venv .venv" in quick
