"""The README and docs/ document every command-line flag, config key, key binding and fault name,
make only claims the program keeps, and every relative link in them resolves.

Where each check looks: a trader looks up a flag, a config key or a key in the README, so those
are checked in README.md (in the section a trader would read); a fault name is typed by a
contributor or a curious trader following the `--demo-faults` row's link, so it is checked in
the page that row links to; a figure or a sentence is checked wherever it now lives.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

from momoscan.cli import build_parser
from momoscan.config import field_docs

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = {path: path.read_text(encoding="utf-8") for path in sorted((ROOT / "docs").glob("*.md"))}
#: The pages written for each reader: each says what it is for and links back to the README.
CONTRIBUTOR_DOCS = ("architecture.md", "benchmarks.md", "development.md")


def _section(text: str, start: str, end: str | None = None) -> str:
    """`text` from the line starting with `start` to the next line starting with `end`."""
    begin = text.index(f"\n{start}")
    if end is None:
        return text[begin:]
    return text[begin : text.index(f"\n{end}", begin + 1)]


def test_every_flag_is_in_the_readme_command_line_table() -> None:
    flags = [
        option
        for action in build_parser()._actions  # argparse has no public listing
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    ]
    assert flags
    table = _section(README, "## Command line", "### Exit codes")
    first_cells = " ".join(re.findall(r"^\| ([^|]+) \|", table, re.M))
    missing = [flag for flag in flags if f"`{flag}" not in first_cells]
    assert not missing, f"flags missing from README.md's Command line table: {missing}"


def test_every_serve_flag_is_in_the_readme_serve_section() -> None:
    from momoscan.serve import build_serve_parser

    flags = [
        option
        for action in build_serve_parser()._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    ]
    section = _section(README, "### `momoscan serve`", "### `momoscan check`")
    missing = [flag for flag in flags if f"`{flag}" not in section]
    assert not missing, f"momoscan serve flags missing from README.md's serve section: {missing}"


def _config_rows(table: str) -> set[tuple[str, str]]:
    rows = re.findall(r"^\|\s*(`\[\w+\]`)?\s*\|\s*`(\w+)`\s*\|", table, re.M)
    documented: set[tuple[str, str]] = set()
    section = ""
    for section_cell, key in rows:
        if section_cell:
            section = section_cell.strip("`[]")
        documented.add((section, key))
    return documented


def test_every_config_key_is_in_the_readme_table() -> None:
    """Every key is in the README's table, where a trader looks, or, for where a source is and
    how hard it may be used (URLs, timeouts, concurrency), in docs/configuration.md, which the
    README's configuration section links to."""
    table = _section(README, "## Configuration", "### The watchlist")
    assert "docs/configuration.md" in table
    connection = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    documented = _config_rows(table) | _config_rows(connection)
    assert not _config_rows(table) & _config_rows(connection), "a key in both tables"
    missing = [
        f"[{section}] {key}"
        for section, keys in field_docs().items()
        for key in keys
        if (section, key) not in documented
    ]
    assert not missing, f"config keys missing from README.md and docs/configuration.md: {missing}"


def test_every_fault_name_is_in_the_page_the_flag_links_to() -> None:
    from momoscan.simulated.faults import ALIASES, FAULTS, GROUPS

    row = next(line for line in README.splitlines() if line.startswith("| `--demo-faults"))
    link = re.search(r"\]\((docs/[\w.]+)#([\w-]+)\)", row)
    assert link, "the --demo-faults row links to no fault table"
    page = DOCS[ROOT / link.group(1)]
    table = page[page.index(f"\n## {link.group(2).replace('-', ' ').capitalize()}") :]
    names = [*FAULTS, *ALIASES, *(g for g in GROUPS if g != "all")]
    missing = [name for name in names if f"`{name}`" not in table]
    assert not missing, f"fault names missing from {link.group(1)}: {missing}"


# ---------------------------------------------------------------------------------------------
# Keys: every screen's bindings in its README table and in its `?` help, and nothing more.


def _screen_keys() -> dict[str, set[str]]:
    """The keys README.md lists for each screen: the main screen's table (a key a row) and the
    other screens' (a screen a row, its keys as "`key` what it does", joined by " · ")."""
    section = _section(README, "### Keys", "## Command line")
    listed: dict[str, set[str]] = {"Main screen": set()}
    main = section[section.index("| main screen |") : section.index("| other screens |")]
    for cell in re.findall(r"^\| ([^|]+?) \|", main, re.M):
        if cell in ("main screen", "---"):
            continue
        listed["Main screen"] |= {part.strip().strip("`") for part in cell.split(" / ")}
    others = section[section.index("| other screens |") :]
    for screen_cell, keys_cell in re.findall(r"^\| \*\*(.+?)\*\*[^|]* \| (.+) \|$", others, re.M):
        keys = {m for m in re.findall(r"(?:^| · )`([^`]+)`", keys_cell)}
        listed[screen_cell] = keys
    return listed


def _screens() -> dict[str, object]:
    from datetime import date

    from momoscan.models import Ticker
    from momoscan.tui.screens.alerts import AlertsScreen
    from momoscan.tui.screens.chart import ChartScreen
    from momoscan.tui.screens.contracts import ContractsScreen
    from momoscan.tui.screens.dialogs import SymbolScreen
    from momoscan.tui.screens.history import HistoryScreen
    from momoscan.tui.screens.main import MainScreen
    from momoscan.tui.screens.record import RecordScreen
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
        "Record": RecordScreen({}, move_pct=5.0, min_sample=10, simulated=True),
    }


def test_the_key_tables_are_read_as_written() -> None:
    listed = _screen_keys()
    assert listed["Main screen"] >= {"r", "Enter", "Tab", "Shift+Tab"}
    assert listed["Drill-down (contracts)"] == {"s", "S", "o", "Escape"}
    assert listed["Everywhere"] == {"?", "R", "q", "Ctrl+C"}


def test_every_key_of_every_screen_is_in_its_readme_table_and_its_help() -> None:
    from momoscan.tui.app import MomoscanApp
    from momoscan.tui.screens.dialogs import help_rows, key_label

    tables = _screen_keys()
    for heading, screen in _screens().items():
        assert heading in tables, f"README.md's Keys section has no row for {heading}"
        listed = tables[heading]
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
    for binding in MomoscanApp.BINDINGS:
        label = key_label(binding.key)  # type: ignore[union-attr]
        assert label in tables["Everywhere"], f"key {label!r} missing from README.md's Everywhere"


# ---------------------------------------------------------------------------------------------
# Claims the README and the docs make about the program.


def test_the_symbol_counts_agree_with_the_builtin_list() -> None:
    from momoscan.cli import BUILTIN_STOCKS, build_parser
    from momoscan.simulated.universe import real_stocks

    rounded = round(len(real_stocks()), -1)
    assert rounded == BUILTIN_STOCKS
    pattern = r"(?:~|About |about )(\d{3}) (?:built-in )?real"
    for path, text in {ROOT / "README.md": README, **DOCS}.items():
        counts = {int(n) for n in re.findall(pattern, text)}
        assert counts <= {rounded}, f"{path.name}: {counts}"
    assert {int(n) for n in re.findall(pattern, README)} == {rounded}
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


def test_the_readme_exit_codes_are_the_program_s() -> None:
    from momoscan import exits

    table = _section(README, "### Exit codes", "### `momoscan serve`")
    rows = dict(re.findall(r"^\| (\d) \| (.+) \|$", table, re.M))
    assert set(rows) == {"0", "1", "2", "3", "4"}
    assert "--exit-code-on-new-entrant" in rows[str(exits.EXIT_NEW_ENTRANT)]
    assert "--exit-code-on-alert" in rows[str(exits.EXIT_ALERT)]
    assert "usage, config or database error" in rows[str(exits.EXIT_USAGE)]
    assert "the refresh failed" in rows[str(exits.EXIT_FAILED)]


def test_the_quick_start_works_with_any_python_from_3_11() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["requires-python"] == ">=3.11"
    quick = _section(README, "## Quick start", "## The screen")
    assert "Python 3.11 or newer" in quick
    assert not re.search(r"python3\.\d", quick), "the quick start names one Python version"
    assert "python3 -m venv .venv" in quick


def test_ci_runs_the_readme_second_quick_start_command_verbatim() -> None:
    quick = _section(README, "## Quick start", "## The screen")
    block = re.search(r"```sh\n(.*?)```", quick, re.S)
    assert block
    commands = [line for line in block.group(1).splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2, commands
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[1].replace("python3 ", "$PYTHON ", 1) in ci.splitlines()


# ---------------------------------------------------------------------------------------------
# Links and the docs' own shape.


def github_anchor(heading: str) -> str:
    """The id GitHub gives a Markdown heading: lower case, punctuation but `-` and `_` dropped,
    each space a `-` (so "Parse + store" is `parse--store`)."""
    text = re.sub(r"`|\*\*|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    kept = "".join(c for c in text if c in "-_ " or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """Every heading's anchor in `markdown` (fenced blocks left out), with GitHub's -1, -2...
    for a repeated heading."""
    prose = re.sub(r"^```.*?^```", "", markdown, flags=re.M | re.S)
    found: set[str] = set()
    for heading in re.findall(r"^#{1,6} (.+)$", prose, re.M):
        anchor = github_anchor(heading)
        n = 0
        while (anchor if n == 0 else f"{anchor}-{n}") in found:
            n += 1
        found.add(anchor if n == 0 else f"{anchor}-{n}")
    return found


def relative_links(markdown: str) -> list[str]:
    """The targets of every Markdown link and image that is not a URL (fenced blocks left out)."""
    prose = re.sub(r"^```.*?^```", "", markdown, flags=re.M | re.S)
    prose = re.sub(r"`[^`\n]*`", "", prose)
    targets = re.findall(r"\]\(([^)\s]+)\)", prose)
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:", t)]


def test_github_anchor_spells_headings_as_github_does() -> None:
    assert github_anchor("`momoscan serve`: the scanner in a browser tab") == (
        "momoscan-serve-the-scanner-in-a-browser-tab"
    )
    assert github_anchor("Parse + store") == "parse--store"
    assert github_anchor("The stream's latency") == "the-streams-latency"
    assert anchors("# A\n```\n# B\n```\n## A\n") == {"a", "a-1"}
    assert relative_links("[x](a.md#b) ![p](p.png) [u](https://x.y) `[c](d)`") == [
        "a.md#b",
        "p.png",
    ]


def test_every_relative_link_in_the_readme_and_docs_resolves() -> None:
    pages = {ROOT / "README.md": README, **DOCS}
    broken = []
    for page, text in pages.items():
        for target in relative_links(text):
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif (
                anchor
                and file.suffix == ".md"
                and anchor not in anchors(file.read_text(encoding="utf-8"))
            ):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_each_contributor_doc_says_what_it_is_for_and_links_back_to_the_readme() -> None:
    for name in CONTRIBUTOR_DOCS:
        text = DOCS[ROOT / "docs" / name]
        first = text.split("\n\n")[1]
        assert "(../README.md" in first, f"docs/{name}'s first paragraph has no link to README"
        assert f"(docs/{name}" in README, f"README.md does not link to docs/{name}"


def test_the_readme_screen_is_the_80x24_snapshot() -> None:
    """README says its 80x24 picture is what the snapshot test draws: it is, character for
    character (`scripts/readme_screen.py --write` puts the snapshot's text there after a
    deliberate change and `--snapshot-update`)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "readme_screen", ROOT / "scripts" / "readme_screen.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    drawn = module.screen_text(module.SNAPSHOT.read_text(encoding="utf-8"))
    assert drawn.count("\n") == 23 and "DEMO" in drawn
    assert module.readme_block(README) == drawn, (
        "README's 80x24 picture differs from the snapshot: run scripts/readme_screen.py --write"
    )
