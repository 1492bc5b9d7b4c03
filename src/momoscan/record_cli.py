"""`momoscan record`: every signal kind's track record from this database's history, what
followed the times momoscan raised it (count, share that moved at least `[record] move_pct`
its way by the close, median, worst, each horizon), with a small distribution plot per kind;
`--json` for scripts, `--html FILE` for a self-contained page with a real chart.

Exit codes: 0 printed (also with no signal recorded yet: it says so), 2 usage, config or
database error (no database at the path, say). No Textual on this path.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date
from html import escape
from pathlib import Path
from typing import Any

from .signals import EXTREMES, HORIZON_WORDS, HORIZONS, Record, badge, kind_words, short_label
from .usage import Parser

#: What the numbers mean, told under the figures (and on the page).
MEANING = (
    "Moves are percent from the signal's price, the way it pointed (+ = as signalled), to "
    "the price stored nearest after each horizon; a hit moved at least {pct:g}% its way by the "
    "close. Signals with no stored price after a horizon are unmeasured and not counted. "
    "Past records of this database only: they promise nothing about the next signal."
)

#: A kind's moves are plotted from this many on.
PLOT_MIN = 3


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}"


def horizon_rows(record: Record) -> list[tuple[str, str, str, str, str, str]]:
    """(horizon, measured, hits and share, median, worst, best) a horizon, as text."""
    rows = []
    for h in (*HORIZONS, *EXTREMES):
        s = record.horizons.get(h)
        if s is None:
            continue
        share = f"{s.hits} ({s.share:.0%})" if s.share is not None else "-"
        if h in EXTREMES:
            share = ""
        rows.append(
            (HORIZON_WORDS[h], str(s.count), share, _num(s.median), _num(s.worst), _num(s.best))
        )
    return rows


def summary(record: Record) -> str:
    """One line: "21 signals: 19 measured at the close, 1 unmeasured, 1 pending"."""
    return (
        f"{record.signals} signal{'s' if record.signals != 1 else ''}: {record.count} measured "
        f"at the close, {record.unmeasured} unmeasured, {record.pending} pending"
    )


def text_report(
    records: dict[str, Record],
    *,
    move_pct: float,
    min_sample: int,
    simulated: bool,
    width: int = 80,
    plots: bool = True,
) -> str:
    """The terminal report: a block a kind (its words, figures a horizon, its badge or why
    none, a histogram of its moves to the close)."""
    import textwrap

    from .record_plot import text_histogram

    head = "momoscan record: what followed each signal, from this database's history"
    if simulated:
        head += " (SIMULATED market: demo data)"
    lines = [*textwrap.wrap(head, width), ""]
    if not records:
        lines.append(
            "No signal recorded yet. The collector (momoscan, momoscan collect) records them as "
            "it runs, and measures what followed every few minutes of market time."
        )
        return "\n".join(lines)
    columns = ("horizon", "n", f"≥{move_pct:g}%", "median", "worst", "best")
    for kind, record in records.items():
        lines.append(f"{short_label(kind)}  {kind_words(kind)}")
        lines.append(f"  {summary(record)}")
        shown = badge(record, min_sample)
        lines.append(
            f"  badge: {shown}"
            if shown
            else f"  badge: none until {min_sample} are measured ([record] min_sample)"
        )
        lines.append(
            "  "
            + f"{columns[0]:<15}{columns[1]:>5}{columns[2]:>11}"
            + "".join(f"{c:>8}" for c in columns[3:])
        )
        for h, n, hits, med, worst, best in horizon_rows(record):
            lines.append(f"  {h:<15}{n:>5}{hits:>11}{med:>8}{worst:>8}{best:>8}")
        if plots and len(record.moves) >= PLOT_MIN:
            lines.append("  moves to the close, % (count a bin):")
            plot = text_histogram(record.moves, width=min(width - 2, 72), height=8)
            lines += ["  " + line for line in plot.splitlines()]
        lines.append("")
    lines += textwrap.wrap(MEANING.format(pct=move_pct), width)
    return "\n".join(lines)


def json_report(records: dict[str, Record], *, min_sample: int, simulated: bool) -> str:
    """The records as JSON: {"simulated", "move_pct", "min_sample", "kinds": [...]}."""
    kinds: list[dict[str, Any]] = []
    move_pct = 0.0
    for kind, r in records.items():
        move_pct = r.move_pct
        kinds.append(
            {
                "kind": kind,
                "label": short_label(kind),
                "words": kind_words(kind),
                "signals": r.signals,
                "measured": r.count,
                "hits": r.hits,
                "share": r.share,
                "median_pct": r.median,
                "worst_pct": r.worst,
                "unmeasured": r.unmeasured,
                "pending": r.pending,
                "badge": badge(r, min_sample),
                "horizons": {
                    h: {
                        "measured": s.count,
                        "hits": s.hits,
                        "median_pct": s.median,
                        "worst_pct": s.worst,
                        "best_pct": s.best,
                    }
                    for h, s in r.horizons.items()
                },
                "moves_to_close_pct": list(r.moves),
            }
        )
    return json.dumps(
        {
            "simulated": simulated,
            "move_pct": move_pct,
            "min_sample": min_sample,
            "kinds": kinds,
        },
        indent=2,
    )


def html_report(
    records: dict[str, Record], *, move_pct: float, min_sample: int, simulated: bool
) -> str:
    """A self-contained page (no script, no outside resource): a table and an SVG histogram a
    kind."""
    from .record_plot import svg_histogram

    title = "momoscan record" + (" (SIMULATED market)" if simulated else "")
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{escape(title)}</title><style>",
        "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;color:#222}",
        "table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.2rem .6rem;"
        "text-align:right;border-bottom:1px solid #ddd}td:first-child,th:first-child"
        "{text-align:left}.kind{margin-top:2rem}.badge{font-family:monospace}</style></head>",
        f"<body><h1>{escape(title)}</h1>",
        f"<p>{escape(MEANING.format(pct=move_pct))}</p>",
    ]
    if not records:
        parts.append("<p>No signal recorded yet.</p>")
    for kind, r in records.items():
        shown = badge(r, min_sample) or f"no badge until {min_sample} are measured"
        parts.append(
            f"<section class='kind'><h2>{escape(short_label(kind))} · "
            f"{escape(kind_words(kind))}</h2><p>{escape(summary(r))}; "
            f"<span class='badge'>{escape(shown)}</span></p><table><tr>"
            + "".join(
                f"<th>{escape(c)}</th>"
                for c in ("horizon", "n", f"≥{move_pct:g}%", "median %", "worst %", "best %")
            )
            + "</tr>"
        )
        for row in horizon_rows(r):
            parts.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>")
        parts.append("</table>")
        parts.append(svg_histogram(r.moves, threshold=move_pct))
        parts.append("</section>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def build_record_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="momoscan record",
        description="Every signal kind's track record from this database's history: what "
        "followed the times momoscan raised it.",
        epilog="Exit codes: 0 printed, 2 usage, config or database error.",
    )
    parser.add_argument("--config", metavar="PATH", help="config file (as for momoscan)")
    parser.add_argument("--db", metavar="PATH", help="SQLite database file to read")
    parser.add_argument(
        "--demo", action="store_true", help="read the simulated market's database (demo.db)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--html", metavar="FILE", help="also write a self-contained HTML page")
    parser.add_argument(
        "--since", metavar="YYYY-MM-DD", help="only signals of this trading day and later"
    )
    parser.add_argument(
        "--move-pct",
        type=float,
        metavar="X",
        help="a hit moves at least X%% its way by the close (default [record] move_pct)",
    )
    parser.add_argument("--no-plot", action="store_true", help="leave the plots out")
    return parser


def _db_path(args: argparse.Namespace, settings: Any) -> Path:
    from .config import default_db_path

    if args.db:
        return Path(args.db).expanduser()
    if settings.store.path:
        return Path(settings.store.path).expanduser()
    demo = args.demo or settings.universe.source == "demo" or not settings.has_live_keys
    path = default_db_path()
    return path.with_name("demo.db") if demo else path


def record_main(argv: Sequence[str]) -> int:
    """`momoscan record`: see the module docstring."""
    import shutil

    from .config import ConfigError, load_settings
    from .exits import EXIT_OK, EXIT_USAGE
    from .queries.records import records
    from .store import Store, StoreError

    parser = build_record_parser()
    args = parser.parse_args(argv)
    since = None
    if args.since:
        try:
            since = date.fromisoformat(args.since)
        except ValueError:
            parser.error(f"--since {args.since!r} is not a date like 2026-11-20")
    if args.move_pct is not None and not args.move_pct > 0:
        parser.error("--move-pct must be greater than 0")
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"momoscan: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    path = _db_path(args, settings)
    if not path.is_file():
        print(
            f"momoscan record: no database at {path}: run momoscan (or momoscan --demo) first, "
            "or point --db at one.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    move_pct = args.move_pct if args.move_pct is not None else settings.record.move_pct
    min_sample = settings.record.min_sample
    try:
        with Store(path, create=False) as store:
            found = records(store, move_pct=move_pct, since=since)
            simulated = store.get_meta("mode") == "demo"
    except StoreError as exc:
        print(f"momoscan record: database error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.html:
        target = Path(args.html).expanduser()
        try:
            target.write_text(
                html_report(found, move_pct=move_pct, min_sample=min_sample, simulated=simulated),
                encoding="utf-8",
            )
        except OSError as exc:
            print(f"momoscan record: cannot write {target}: {exc.strerror}", file=sys.stderr)
            return EXIT_USAGE
    if args.json:
        print(json_report(found, min_sample=min_sample, simulated=simulated))
    else:
        width = shutil.get_terminal_size((80, 24)).columns
        print(
            text_report(
                found,
                move_pct=move_pct,
                min_sample=min_sample,
                simulated=simulated,
                width=max(40, width),
                plots=not args.no_plot,
            )
        )
        if args.html:
            print(f"\nWrote {args.html}.")
    return EXIT_OK
