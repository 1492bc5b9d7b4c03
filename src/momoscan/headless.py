"""The headless output: the scan as rich tables or as JSON, from one read of the store.

Never imports Textual (a test proves it): this is the path cron runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.console import Console, Group, JustifyMethod
from rich.table import Table
from rich.text import Text

from . import format as fmt
from . import market_hours as mh
from .models import Leader
from .queries import ScanRow, ShareRow, Snapshot


@dataclass(frozen=True)
class Context:
    """What the output says about the run besides the rows."""

    mode: str  # "demo" or "live"
    market_time: datetime
    session: str
    cap_tiers: list[str]
    min_price: float
    universe_description: str


SCAN_COLUMNS: tuple[tuple[str, JustifyMethod], ...] = (
    ("#", "right"),
    ("Symbol", "left"),
    ("Name", "left"),
    ("Price", "right"),
    ("% Chg", "right"),
    ("Volume", "right"),
    ("RVol", "right"),
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


def _scan_table(name: str, rows: list[ScanRow], ctx: Context, snap: Snapshot) -> Table:
    table = Table(title=_title(name, ctx, snap), title_justify="left", expand=False)
    for header, justify in SCAN_COLUMNS:
        table.add_column(
            header,
            justify=justify,
            no_wrap=True,
            max_width=26 if header == "Name" else None,
            overflow="ellipsis",
        )
    for i, r in enumerate(rows, start=1):
        change_style = (
            "green" if (r.change_pct or 0) > 0 else "red" if (r.change_pct or 0) < 0 else ""
        )
        table.add_row(
            str(i),
            Text(r.symbol, style="bold"),
            Text(r.name, overflow="ellipsis"),
            fmt.price(r.price),
            Text(fmt.pct(r.change_pct), style=change_style),
            fmt.count(r.volume),
            fmt.ratio(r.rvol),
            fmt.age(snap.read_at - r.fetched_at),
        )
    if not rows:
        table.caption = "No quotes yet."
    return table


def _shares_table(shares: list[ShareRow], ctx: Context, snap: Snapshot) -> Table:
    day = snap.options_day.isoformat() if snap.options_day else "-"
    title = Text(
        f"Options volume share · watch set · {day} (Cboe, 15 min delayed) · ", style="bold"
    )
    title.append(
        mode_label(ctx.mode), style="bold black on yellow" if ctx.mode == "demo" else "bold green"
    )
    table = Table(title=title, title_justify="left")
    table.add_column("Underlying", no_wrap=True)
    table.add_column("Share", min_width=21)
    table.add_column("%", justify="right")
    table.add_column("Volume", justify="right")
    table.add_column("Calls/Puts", justify="right")
    table.add_column("Unusual", justify="right")
    table.add_column("", no_wrap=True)
    top = max((s.share for s in shares), default=1.0) or 1.0
    for s in shares:
        calls_part = s.calls / s.total if s.total else 0
        bar = Text()
        bar.append(fmt.share_bar(calls_part * s.share / top, 20), style="green")
        bar.append(fmt.share_bar((1 - calls_part) * s.share / top, 20), style="red")
        table.add_row(
            Text(s.underlying, style="bold"),
            bar,
            f"{s.share * 100:.1f}%",
            fmt.count(s.total),
            f"{fmt.count(s.calls)}/{fmt.count(s.puts)}",
            str(s.unusual) if s.unusual else "",
            Text("NEW", style="bold black on magenta") if s.is_new else "",
        )
    if not shares:
        table.caption = "No option chains yet."
    return table


def _leaders_table(leaders: list[Leader], snap: Snapshot) -> Table | Group:
    day = snap.leaders_day.isoformat() if snap.leaders_day else "-"
    table = Table(
        title=Text(f"Daily options top 10 · {day} (OCC, all US options)", style="bold"),
        title_justify="left",
    )
    for header, justify in LEADER_COLUMNS:
        table.add_column(header, justify=justify, no_wrap=True)
    notes = []
    for x in leaders:
        change = "in" if x.rank_change is None else f"{x.rank_change:+d}" if x.rank_change else "="
        if x.is_new:
            note = Text("NEW ", style="bold black on magenta")
            note.append(f" {x.underlying}: {x.reason}", style="")
            notes.append(note)
        table.add_row(
            str(x.rank),
            Text(x.underlying, style="bold"),
            fmt.count(x.total),
            f"{fmt.count(x.calls)}/{fmt.count(x.puts)}",
            change,
            f"{x.streak}d",
            fmt.ratio(x.volume_ratio),
            Text("NEW", style="bold black on magenta") if x.is_new else "",
        )
    if not leaders:
        table.caption = "No daily leaders yet."
    return Group(table, *notes) if notes else table


def render(snap: Snapshot, ctx: Context) -> Group:
    info = snap.universe
    universe = Text(
        f"Universe: {info.size} symbols from {ctx.universe_description}"
        f"{f' ({info.as_of})' if info.as_of else ''} · tiers {', '.join(ctx.cap_tiers)} · "
        f"price ≥ ${ctx.min_price:g} · fresh quotes {snap.fresh}/{info.size}",
        style="dim",
    )
    if info.warning:
        universe.append(f"\n{info.warning}", style="yellow")
    parts: list[Any] = [
        universe,
        _scan_table("Top movers", snap.movers, ctx, snap),
        _scan_table("Top volume", snap.volume, ctx, snap),
        _shares_table(snap.shares, ctx, snap),
        _leaders_table(snap.leaders, snap),
    ]
    return Group(*parts)


def print_tables(console: Console, snap: Snapshot, ctx: Context) -> None:
    console.print(render(snap, ctx))


# ---------------------------------------------------------------------------------------------
# JSON


def _scan_json(rows: list[ScanRow], now: float) -> list[dict[str, Any]]:
    return [
        {
            "rank": i,
            "symbol": r.symbol,
            "name": r.name,
            "exchange": r.exchange,
            "mic": r.mic,
            "cap_tier": r.cap_tier,
            "price": r.price,
            "change_pct": r.change_pct,
            "volume": r.volume,
            "avg_volume": r.avg_volume,
            "rvol": None if r.rvol is None else round(r.rvol, 3),
            "age_seconds": round(now - r.fetched_at, 1),
            "fetched_at": datetime.fromtimestamp(r.fetched_at).astimezone().isoformat(),
        }
        for i, r in enumerate(rows, start=1)
    ]


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


def to_json(
    snap: Snapshot,
    ctx: Context,
    *,
    report: dict[str, Any] | None = None,
    history: dict[Any, list[Leader]] | None = None,
    unusual: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    now = snap.read_at
    info = snap.universe
    return {
        "mode": ctx.mode,
        "simulated": ctx.mode == "demo",
        "generated_at": datetime.fromtimestamp(now).astimezone().isoformat(),
        "market_time": ctx.market_time.isoformat(),
        "session": ctx.session,
        "data_age_seconds": None if snap.oldest_row_age is None else round(snap.oldest_row_age, 1),
        "filters": {"cap_tiers": ctx.cap_tiers, "min_price": ctx.min_price},
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
        "top_movers": _scan_json(snap.movers, now),
        "top_volume": _scan_json(snap.volume, now),
        "options": {
            "day": snap.options_day.isoformat() if snap.options_day else None,
            "shares": [
                {
                    "underlying": s.underlying,
                    "total": s.total,
                    "calls": s.calls,
                    "puts": s.puts,
                    "share_pct": round(s.share * 100, 2),
                    "unusual_contracts": s.unusual,
                    "is_new": s.is_new,
                    "reason": s.reason,
                }
                for s in snap.shares
            ],
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
