"""The headless output: the scan as rich tables or as JSON, from one read of the store.

Never imports Textual (a test proves it): this is the path cron runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group, JustifyMethod
from rich.table import Table
from rich.text import Text

from . import format as fmt
from . import market_hours as mh
from .entrants import SCANNER
from .halts import reason_text
from .marks import halt_json, halted_now, high_json, marks_text, snapshot_marks, ssr_json
from .models import AlertEvent, Leader
from .queries import GapRow, ScanRow, ShareRow, Snapshot
from .rowfacts import (
    filings_json,
    float_filter_text,
    float_json,
    lead_json,
    short_json,
    snapshot_facts,
)
from .signals import kind_of_event

if TYPE_CHECKING:
    from .engine.scheduler import Coverage
    from .engine.stream import StreamStatus


@dataclass(frozen=True)
class Context:
    """What the output says about the run besides the rows."""

    mode: str  # "demo" or "live"
    market_time: datetime
    session: str
    cap_tiers: list[str]
    min_price: float
    universe_description: str
    #: The tables' float filter (`[scan] min_float`, `max_float`), shares; None: no bound.
    min_float: float | None = None
    max_float: float | None = None

    @property
    def float_filter(self) -> str:
        """`float ≤ 20.0M`, `float 1.00M-20.0M`, or "" without a bound."""
        return float_filter_text(self.min_float, self.max_float)


SCAN_COLUMNS: tuple[tuple[str, JustifyMethod], ...] = (
    ("#", "right"),
    ("Symbol", "left"),
    ("Name", "left"),
    ("Marks", "left"),
    ("Price", "right"),
    ("% Chg", "right"),
    ("Volume", "right"),
    ("RVol", "right"),
    ("Float", "right"),
    ("Rot.", "right"),
    ("SI%", "right"),
    ("Age", "right"),
)
LEADER_COLUMNS: tuple[tuple[str, JustifyMethod], ...] = (
    ("#", "right"),
    ("Underlying", "left"),
    ("Volume", "right"),
    ("Calls/Puts", "right"),
    ("Rank Δ", "right"),
    ("Streak", "right"),
    ("vs avg", "right"),
    ("", "left"),
)


def mode_label(mode: str) -> str:
    return "DEMO (simulated market)" if mode == "demo" else "LIVE"


def _title(name: str, ctx: Context, snap: Snapshot) -> Text:
    age = snap.oldest_row_age
    clock = ctx.market_time.astimezone(mh.ET).strftime("%H:%M ET")
    title = Text(f"{name} · ", style="bold")
    title.append(
        mode_label(ctx.mode), style="bold black on yellow" if ctx.mode == "demo" else "bold green"
    )
    title.append(f" · {clock} {ctx.session}")
    title.append(f" · data {fmt.age(age)} old" if age is not None else " · no data yet")
    return title


Cell = Text | str


def column_widths(
    columns: Sequence[tuple[str, JustifyMethod]], rows: Sequence[Sequence[Cell]]
) -> list[int]:
    """Each column's natural width in cells: its header's or its widest cell's."""
    return [
        max([Text(header).cell_len, *(_cell_len(row[i]) for row in rows)])
        for i, (header, _) in enumerate(columns)
    ]


def _cell_len(cell: Cell) -> int:
    return cell.cell_len if isinstance(cell, Text) else Text(cell).cell_len


def fitted_table(
    title: Text,
    columns: Sequence[tuple[str, JustifyMethod]],
    rows: Sequence[Sequence[Cell]],
    width: int,
    *,
    flexible: str,
    min_flexible: int = 4,
    drop: Sequence[str] = (),
) -> Table:
    """A table whose every column but `flexible` is as wide as its widest cell, so numbers are
    never cut; `flexible` (the name, or the share bar) takes what is left of `width` and is
    cut with an ellipsis, or left out when less than `min_flexible` cells remain. Where even
    the others do not fit, the columns named in `drop` are left out, in that order, until
    they do (a number is shown whole or not at all)."""
    cells = [[c if isinstance(c, Text) else Text(c) for c in row] for row in rows]
    natural = column_widths(columns, cells)
    headers = [header for header, _ in columns]
    flex = headers.index(flexible)
    shown = list(range(len(columns)))

    def fixed() -> int:
        # Each column costs its padding (1 + 1) and a border; the table one more border.
        return sum(natural[i] for i in shown if i != flex) + 3 * len(shown) + 1

    for header in drop:
        if fixed() - (3 if flex in shown else 0) <= width:
            break
        if header in headers and headers.index(header) in shown:
            shown.remove(headers.index(header))
    widths = list(natural)
    room = width - fixed()
    keep = room >= min_flexible and flex in shown
    if not keep and flex in shown:
        shown.remove(flex)
    if keep:
        widths[flex] = min(widths[flex], room)
        # As wide as the title where the width allows, so that the title is one line.
        total = sum(widths[i] for i in shown) + 3 * len(shown) + 1
        if total < title.cell_len + 2 <= width:
            widths[flex] += title.cell_len + 2 - total
    table = Table(title=title, title_justify="left", expand=False)
    for i in shown:
        header, justify = columns[i]
        table.add_column(
            header, justify=justify, no_wrap=True, width=widths[i], overflow="ellipsis"
        )
    for row in cells:
        table.add_row(*(row[i] for i in shown))
    return table


def _scan_table(name: str, rows: list[ScanRow], ctx: Context, snap: Snapshot, width: int) -> Table:
    body: list[list[Cell]] = []
    marks = snapshot_marks(snap, [r.symbol for r in rows])
    facts = snapshot_facts(snap, rows)
    for i, r in enumerate(rows, start=1):
        f = facts[r.symbol]
        change_style = (
            "green" if (r.change_pct or 0) > 0 else "red" if (r.change_pct or 0) < 0 else ""
        )
        body.append(
            [
                str(i),
                Text(r.symbol, style="bold"),
                Text(r.name or r.symbol),
                *([Text(marks_text(marks.get(r.symbol, [])), style="bold")] if marks else []),
                fmt.price(r.price),
                Text(fmt.pct(r.change_pct), style=change_style),
                fmt.count(r.volume),
                fmt.ratio(r.rvol),
                f.float_text,
                f.rotation_text,
                f.si_text,
                fmt.age(r.age(snap.market_now)),
            ]
        )
    # The Marks column (HALT, RESUMED, SSR, HOD) only where a row carries one.
    columns = SCAN_COLUMNS if marks else tuple(c for c in SCAN_COLUMNS if c[0] != "Marks")
    table = fitted_table(
        _title(name, ctx, snap),
        columns,
        body,
        width,
        flexible="Name",
        min_flexible=6,
        # The marks last: at 40 columns a number would be cut rather than leave them out.
        drop=("#", "SI%", "Rot.", "Age", "Volume", "Float", "RVol", "Marks"),
    )
    if not rows:
        table.caption = "No quotes yet."
    return table


GAP_COLUMNS: tuple[tuple[str, JustifyMethod], ...] = (
    ("#", "right"),
    ("Symbol", "left"),
    ("Name", "left"),
    ("Pre-mkt", "right"),
    ("Gap", "right"),
    ("Prev close", "right"),
    ("PM vol", "right"),
    ("PM RVol", "right"),
    ("Age", "right"),
)


def _gappers_table(rows: list[GapRow], ctx: Context, snap: Snapshot, width: int) -> Table:
    body: list[list[Cell]] = []
    for i, g in enumerate(rows, start=1):
        r = g.row
        body.append(
            [
                str(i),
                Text(r.symbol, style="bold"),
                Text(r.name or r.symbol),
                fmt.price(r.price),
                Text(fmt.pct(g.gap_pct), style="green" if g.gap_pct > 0 else "red"),
                fmt.price(g.prev_close),
                fmt.count(g.premarket_volume),
                fmt.ratio(g.premarket_rvol),
                fmt.age(r.age(snap.market_now)),
            ]
        )
    return fitted_table(
        _title("Pre-market gappers · gap from the previous close", ctx, snap),
        GAP_COLUMNS,
        body,
        width,
        flexible="Name",
        min_flexible=6,
        drop=("#", "Age", "PM RVol", "PM vol", "Prev close"),
    )


def _gap_json(rows: list[GapRow], now: float) -> list[dict[str, Any]]:
    return [
        {
            "rank": i,
            "symbol": g.symbol,
            "name": g.row.name,
            "premarket_price": g.row.price,
            "gap_pct": round(g.gap_pct, 4),
            "prev_close": g.prev_close,
            "premarket_volume": g.premarket_volume,
            "premarket_rvol": None if g.premarket_rvol is None else round(g.premarket_rvol, 3),
            "age_seconds": round(g.row.age(now), 1),
        }
        for i, g in enumerate(rows, start=1)
    ]


SHARE_COLUMNS: tuple[tuple[str, JustifyMethod], ...] = (
    ("Underlying", "left"),
    ("Share", "left"),
    ("%", "right"),
    ("Volume", "right"),
    ("Calls/Puts", "right"),
    ("Unusual", "right"),
    ("Age", "right"),
    ("", "left"),
)
#: Cells of the share bar at most (a share of the largest underlying's).
BAR_CELLS = 20


def _shares_table(shares: list[ShareRow], ctx: Context, snap: Snapshot, width: int) -> Table:
    day = snap.options_day.isoformat() if snap.options_day else "-"
    fresh = [s for s in shares if not s.stale]
    title = Text(
        f"Options volume · share of the watch set ({len(fresh)} chains) · {day} "
        "(Cboe, 15 min delayed) · ",
        style="bold",
    )
    title.append(
        mode_label(ctx.mode), style="bold black on yellow" if ctx.mode == "demo" else "bold green"
    )
    top = max((s.share for s in shares), default=1.0) or 1.0
    body: list[list[Cell]] = [
        [
            Text(s.underlying, style="dim" if s.stale else "bold"),
            Text(),  # the bar, below: as long as the width leaves room for, never cut
            "stale" if s.stale else f"{s.share * 100:.1f}%",
            fmt.count(s.total),
            f"{fmt.count(s.calls)}/{fmt.count(s.puts)}",
            str(s.unusual) if s.unusual else "",
            Text(fmt.age(s.age), style="yellow" if s.stale else ""),
            Text("NEW", style="bold black on magenta") if s.is_new else "",
        ]
        for s in shares
    ]
    natural = column_widths(SHARE_COLUMNS, body)
    others = sum(
        w for (header, _), w in zip(SHARE_COLUMNS, natural, strict=True) if header != "Share"
    )
    # Each column costs its padding and a border, the table one more border; a bar is scaled
    # to what is left (a proportional bar cut with an ellipsis would misstate the shares).
    cells = max(5, min(BAR_CELLS, width - others - 3 * len(SHARE_COLUMNS) - 2))
    for s, row in zip(shares, body, strict=True):
        calls_part = s.calls / s.total if s.total else 0
        bar = Text()
        if not s.stale:
            bar.append(fmt.share_bar(calls_part * s.share / top, cells), style="green")
            bar.append(fmt.share_bar((1 - calls_part) * s.share / top, cells), style="red")
        bar.append(" " * max(0, cells + 1 - bar.cell_len))
        row[1] = bar
    table = fitted_table(
        title,
        SHARE_COLUMNS,
        body,
        width,
        flexible="Share",
        min_flexible=5,
        drop=("Age", "Unusual", "Calls/Puts"),
    )
    if not shares:
        table.caption = "No option chains yet."
    elif len(fresh) < len(shares):
        limit = fmt.age(snap.chain_max_age) if snap.chain_max_age else "the limit"
        table.caption = (
            f"{len(shares) - len(fresh)} chains older than {limit} are left out of the shares."
        )
    return table


def _leaders_table(leaders: list[Leader], snap: Snapshot, width: int) -> Table | Group:
    day = snap.leaders_day.isoformat() if snap.leaders_day else "-"
    title = Text(f"Daily options top 10 · {day} (OCC, all US options)", style="bold")
    notes = []
    body: list[list[Cell]] = []
    for x in leaders:
        change = "in" if x.rank_change is None else f"{x.rank_change:+d}" if x.rank_change else "="
        if x.is_new:
            note = Text("NEW ", style="bold black on magenta")
            note.append(f" {x.underlying}: {x.reason}", style="")
            notes.append(note)
        body.append(
            [
                str(x.rank),
                Text(x.underlying, style="bold"),
                fmt.count(x.total),
                f"{fmt.count(x.calls)}/{fmt.count(x.puts)}",
                change,
                f"{x.streak}d",
                fmt.ratio(x.volume_ratio),
                Text("NEW", style="bold black on magenta") if x.is_new else "",
            ]
        )
    table = fitted_table(
        title,
        LEADER_COLUMNS,
        body,
        width,
        flexible="",
        min_flexible=0,
        drop=("vs avg", "Streak", "Rank Δ", "Calls/Puts"),
    )
    if not leaders:
        table.caption = "No daily leaders yet."
    return Group(table, *notes) if notes else table


def render(snap: Snapshot, ctx: Context, width: int = 80) -> Group:
    """The headless tables for a console `width` cells wide: numbers are never cut, the name
    column (and the share bars) give way first."""
    info = snap.universe
    universe = Text(
        f"Universe: {info.size} symbols from {ctx.universe_description}"
        f"{f' ({info.as_of})' if info.as_of else ''} · tiers {', '.join(ctx.cap_tiers)} · "
        f"price ≥ ${ctx.min_price:g}{f' · {ctx.float_filter}' if ctx.float_filter else ''} · "
        f"fresh quotes {snap.fresh}/{info.size}",
        style="dim",
    )
    if info.warning:
        universe.append(f"\n{info.warning}", style="yellow")
    if snap.market_halt is not None:
        mwcb = snap.market_halt
        since = fmt.et_time(mwcb.halted_at, seconds=False)
        universe.append(
            f"\nMARKET-WIDE HALT since {since} ET: {reason_text(mwcb.reason)}", style="bold red"
        )
    halted = halted_now(snap)
    if halted:
        said = []
        for symbol in halted:
            halt = snap.halts[symbol]
            resumes = halt.resume_trade_at
            when = (
                f", resumes {fmt.et_time(resumes, seconds=False)} ET" if resumes is not None else ""
            )
            said.append(f"{symbol} ({halt.reason} {halt.reason_text}{when})")
        universe.append(f"\nHalted now: {'; '.join(said)}", style="bold red")
    parts: list[Any] = [
        universe,
        *([_gappers_table(snap.gappers, ctx, snap, width)] if snap.gappers else []),
        _scan_table("Top gainers", snap.movers, ctx, snap, width),
        _scan_table("Top losers", snap.losers, ctx, snap, width),
        _scan_table("Top volume", snap.volume, ctx, snap, width),
        _shares_table(snap.shares, ctx, snap, width),
        _leaders_table(snap.leaders, snap, width),
    ]
    return Group(*parts)


def print_tables(console: Console, snap: Snapshot, ctx: Context) -> None:
    console.print(render(snap, ctx, console.width))


# ---------------------------------------------------------------------------------------------
# JSON


def _scan_json(
    rows: list[ScanRow], snap: Snapshot, why: Callable[[str], str] | None = None
) -> list[dict[str, Any]]:
    """Rows for --json; ages are against the snapshot's market clock; `why` says why the
    scheduler gives each symbol its priority. `halt`, `ssr` and `high_of_day` are null where
    the name has none (see `marks.halt_json`, `marks.ssr_json`)."""
    now = snap.market_now
    day = datetime.fromtimestamp(now, mh.ET).date()
    marks = snapshot_marks(snap, [r.symbol for r in rows])
    facts = snapshot_facts(snap, rows)
    return [
        {
            "rank": i,
            "symbol": r.symbol,
            "name": r.name,
            "exchange": r.exchange,
            "mic": r.mic,
            "cap_tier": r.cap_tier,
            # Rounded: the sources' decimal prices, not their nearest binary floats.
            "price": round(r.price, 4),
            "change_pct": None if r.change_pct is None else round(r.change_pct, 4),
            "volume": r.volume,
            "avg_volume": r.avg_volume,
            # RVol at the time of day, and the whole day's (volume / average daily volume).
            "rvol": None if r.rvol is None else round(r.rvol, 3),
            "rvol_day": None if r.rvol_day is None else round(r.rvol_day, 3),
            "rvol_5m": None if r.rvol_5m is None else round(r.rvol_5m, 3),
            "float": float_json(snap.floats.get(r.symbol)),
            "float_rotation": None
            if facts[r.symbol].float_rotation is None
            else round(facts[r.symbol].float_rotation or 0.0, 3),
            "short": short_json(
                snap.short_interest.get(r.symbol),
                snap.short_volume.get(r.symbol),
                facts[r.symbol],
            ),
            "filings": filings_json(
                [f for f in snap.filings.get(r.symbol, ()) if f.accepted_at <= now]
            ),
            "lead": lead_json(snap.leads.get(r.symbol)),
            "badges": snap.symbol_badges(r.symbol),
            "age_seconds": round(r.age(now), 1),
            "quote_time": datetime.fromtimestamp(r.quoted_at, UTC).isoformat(),
            "fetched_at": datetime.fromtimestamp(r.fetched_at, UTC).isoformat(),
            "source": r.source,
            "why": why(r.symbol) if why is not None else None,
            "marks": [m.text for m in marks.get(r.symbol, [])],
            "halt": halt_json(snap.halts.get(r.symbol)),
            "ssr": ssr_json(snap.restrictions.get(r.symbol), day),
            "high_of_day": high_json(snap.highs.get(r.symbol)),
        }
        for i, r in enumerate(rows, start=1)
    ]


def _market_json(snap: Snapshot) -> dict[str, Any] | None:
    """The whole-market view: OCC's newest day, top names and "all others"."""
    market = snap.market
    if market is None:
        return None
    return {
        "day": market.day.isoformat(),
        "source": "OCC, all US-listed options",
        "total": market.total,
        "underlyings": market.underlyings,
        "rows": [
            {
                "underlying": r.underlying,
                "total": r.total,
                "calls": r.calls,
                "puts": r.puts,
                "share_pct": round(r.share * 100, 2),
                "is_new": r.is_new,
                "grouped": r.grouped,
            }
            for r in market.rows
        ],
    }


def _leader_json(x: Leader) -> dict[str, Any]:
    return {
        "rank": x.rank,
        "underlying": x.underlying,
        "total": x.total,
        "calls": x.calls,
        "puts": x.puts,
        "is_new": x.is_new,
        "reason": x.reason,
        "streak": x.streak,
        "rank_change": x.rank_change,
        "volume_ratio": x.volume_ratio,
    }


def alert_line(event: AlertEvent) -> str:
    """An alert as one line of the headless output: `ALERT 11:32 ET NVDA breakout: ...`."""
    clock = datetime.fromtimestamp(event.at, mh.ET).strftime("%H:%M ET")
    named = f"{event.name}: " if event.name else ""
    return f"ALERT {clock} {named}{event.message}"


def alert_json(
    event: AlertEvent, badges: Mapping[tuple[str, str], str] | None = None
) -> dict[str, Any]:
    """An alert for --json: `kind` is "rule" (an `[[alerts.rules]]` rule's, `rule` its key) or
    "scanner" (the scanner's own entries: `name` says which board); `signal` its signal kind
    (`signals.SIGNAL_KINDS`, "rule:..." for a rule) and `badge` that kind's track record
    ("NEW · 9/21 ≥5% by close", null below the minimum sample; from `badges`)."""
    signal = kind_of_event(event.rule, event.name)
    return {
        "kind": "scanner" if event.rule == SCANNER else "rule",
        "rule": event.rule,
        "name": event.name,
        "symbol": event.symbol,
        "message": event.message,
        "at": datetime.fromtimestamp(event.at, mh.ET).isoformat(),
        "day": event.day.isoformat(),
        "price": event.price,
        "change_pct": event.change_pct,
        "rvol": None if event.rvol is None else round(event.rvol, 3),
        "options_share_pct": None if event.options_share is None else round(event.options_share, 2),
        "signal": signal,
        "badge": (badges or {}).get((signal, event.symbol)),
    }


def stream_json(status: StreamStatus | None, universe: int) -> dict[str, Any]:
    """The price stream for --json: `state` live, stalled (no message within its bound: its
    names are polled while it reconnects), reconnecting (dropped) or off (not run, or the plan
    has none); names `streaming` now (the sweep polls the rest); price events `refused_events`
    for naming another listing than the one asked; seconds since its last message of any kind
    (a price or a heartbeat's reply; None before the first)."""
    if status is None:
        return {
            "state": "off",
            "streaming": 0,
            "refused_events": 0,
            "last_message_age_seconds": None,
            "problem": "",
            "line": "",
        }
    age = status.last_message_age
    return {
        "state": status.state,
        "streaming": status.live,
        "refused_events": status.refused_events,
        "last_message_age_seconds": None if age is None else round(age, 1),
        "problem": status.problem,
        "line": status.line(universe),
    }


def to_json(
    snap: Snapshot,
    ctx: Context,
    *,
    report: dict[str, Any] | None = None,
    history: dict[Any, list[Leader]] | None = None,
    unusual: list[dict[str, Any]] | None = None,
    alerts: Sequence[AlertEvent] = (),
    scanner: Sequence[AlertEvent] = (),
    alerts_today: Sequence[AlertEvent] | None = None,
    why: Callable[[str], str] | None = None,
    coverage: Coverage | None = None,
    stream: StreamStatus | None = None,
) -> dict[str, Any]:
    """The --json document. `alerts` are the rules' alerts of this run, `scanner` the scanner's
    entries (top movers, top volume, options top 10), `alerts_today` both kinds stored for the
    day. `why` and `coverage` come from the engine's scheduler: why each top row has its
    priority, and how stale the stalest name is and what it favours."""
    now = snap.read_at
    info = snap.universe
    return {
        "mode": ctx.mode,
        "simulated": ctx.mode == "demo",
        "generated_at": datetime.fromtimestamp(now).astimezone().isoformat(),
        "market_time": ctx.market_time.isoformat(),
        "session": ctx.session,
        "data_age_seconds": None if snap.oldest_row_age is None else round(snap.oldest_row_age, 1),
        "filters": {
            "cap_tiers": ctx.cap_tiers,
            "min_price": ctx.min_price,
            "min_float": ctx.min_float,
            "max_float": ctx.max_float,
        },
        "universe": {
            "source": info.source,
            "description": ctx.universe_description,
            "size": info.size,
            "date": info.as_of.isoformat() if info.as_of else None,
            "fresh": snap.fresh,
            "quoted": snap.quoted,
            "warning": info.warning,
        },
        "refresh": report,
        "alerts": [alert_json(e, snap.badges) for e in alerts],
        "scanner_alerts": [alert_json(e, snap.badges) for e in scanner],
        **(
            {"alerts_today": [alert_json(e, snap.badges) for e in alerts_today]}
            if alerts_today is not None
            else {}
        ),
        "coverage": None
        if coverage is None
        else {
            "scheduler": coverage.strategy,
            "stalest_seconds": None if coverage.stalest_s is None else round(coverage.stalest_s, 1),
            "bound_seconds": round(coverage.bound_s, 1),
            "favouring": coverage.favouring,
            "probe": coverage.probe,
            "line": coverage.line(),
        },
        "stream": stream_json(stream, info.size),
        "gappers": _gap_json(snap.gappers, snap.market_now),
        "market_wide_halt": None
        if snap.market_halt is None
        else {
            "reason": snap.market_halt.reason,
            "reason_text": reason_text(snap.market_halt.reason),
            "halted_at": snap.market_halt.halted_at,
            "resume_trade_at": snap.market_halt.resume_trade_at,
        },
        "halted_now": halted_now(snap),
        "top_movers": _scan_json(snap.movers, snap, why),
        "top_losers": _scan_json(snap.losers, snap, why),
        "largest_moves": _scan_json(snap.moves, snap, why),
        "top_volume": _scan_json(snap.volume, snap, why),
        "options": {
            "day": snap.options_day.isoformat() if snap.options_day else None,
            "shares_of": "watch set",
            "chain_max_age_seconds": snap.chain_max_age,
            "shares": [
                {
                    "underlying": s.underlying,
                    "total": s.total,
                    "calls": s.calls,
                    "puts": s.puts,
                    # A stale chain is left out of the shares: it has none.
                    "share_pct": None if s.stale else round(s.share * 100, 2),
                    "unusual_contracts": s.unusual,
                    "is_new": s.is_new,
                    "reason": s.reason,
                    "as_of": None
                    if s.as_of is None
                    else datetime.fromtimestamp(s.as_of, UTC).isoformat(),
                    "age_seconds": None if s.age is None else round(s.age, 1),
                    "stale": s.stale,
                }
                for s in snap.shares
            ],
            "whole_market": _market_json(snap),
            "unusual_contracts": unusual or [],
            "leaders": {
                "day": snap.leaders_day.isoformat() if snap.leaders_day else None,
                "rows": [_leader_json(x) for x in snap.leaders],
            },
            "leaders_history": [
                {"day": day.isoformat(), "rows": [_leader_json(x) for x in rows]}
                for day, rows in (history or {}).items()
            ],
        },
    }


def progress_line(step: str, done: int, total: int, credits: int, errors: int, message: str) -> str:
    stamp = time.strftime("%H:%M:%S")
    if step == "quotes":
        return f"{stamp} quotes {done}/{total} · {credits} credits · {errors} errors"
    return f"{stamp} {message}"
