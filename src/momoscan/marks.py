"""The marks a row carries: `HALT LULD to 10:06`, `RESUMED 2m`, `SSR`, `HOD 3`, `8-K 2.02 · 14m`,
`opt→px 35m`.

One function says what a symbol's marks are at a moment, from what the snapshot read (halts,
Rule 201 restrictions, new highs of the day, the day's SEC filings); the terminal UI colours
them, the headless text prints them and the JSON carries their fields. Stdlib only: no
Textual, no SQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from . import format as fmt
from . import market_hours as mh
from .filings import Filing, catalyst_text
from .halts import ShortSaleRestriction
from .lead import Lead
from .models import DayHigh
from .queries.halts import HaltState
from .queries.snapshots import Snapshot

#: A new high of the day is "fresh" (the row's HOD mark is bright) for this many seconds.
HOD_FRESH = 300.0


@dataclass(frozen=True, slots=True)
class Mark:
    """One mark: `kind` is halt, resumed, ssr, hod, catalyst or lead; `text` what a row shows;
    `alarm` True for what a trader must see at once (a halt)."""

    kind: str
    text: str
    alarm: bool = False


def row_marks(
    symbol: str,
    now: float,
    *,
    halts: Mapping[str, HaltState],
    restrictions: Mapping[str, ShortSaleRestriction],
    highs: Mapping[str, DayHigh],
    filings: Mapping[str, Sequence[Filing]] | None = None,
    leads: Mapping[str, Lead] | None = None,
) -> list[Mark]:
    """`symbol`'s marks at `now` (Unix seconds, market clock), most urgent first; the
    catalyst mark is the day's newest filing accepted by `now` (`filings`: newest first);
    the lead mark says whether options activity led the price run or followed it."""
    marks: list[Mark] = []
    halt = halts.get(symbol)
    if halt is not None:
        if halt.halted:
            text = f"HALT {halt.short}"
            if halt.resume_trade_at is not None and halt.resume_trade_at > now:
                # When trading resumes (ET), as the feed announces it: where a runner moves.
                text += f" to {fmt.et_time(halt.resume_trade_at, seconds=False)}"
            marks.append(Mark("halt", text, alarm=True))
        elif halt.resumed_at is not None:
            marks.append(Mark("resumed", f"RESUMED {fmt.age(max(0.0, now - halt.resumed_at))}"))
    if symbol in restrictions:
        marks.append(Mark("ssr", "SSR"))
    high = highs.get(symbol)
    if high is not None and high.count > 0 and now - high.at <= HOD_FRESH:
        marks.append(Mark("hod", f"HOD {high.count}" if high.count > 1 else "HOD"))
    filing = catalyst(symbol, now, filings or {})
    if filing is not None:
        marks.append(Mark("catalyst", catalyst_text(filing, now)))
    lead = (leads or {}).get(symbol)
    if lead is not None and lead.at <= now:
        marks.append(Mark("lead", lead.text))
    return marks


def catalyst(symbol: str, now: float, filings: Mapping[str, Sequence[Filing]]) -> Filing | None:
    """The newest of `symbol`'s filings accepted by `now` (a replayed or simulated clock must
    not show a filing from its future), or None."""
    return next((f for f in filings.get(symbol, ()) if f.accepted_at <= now), None)


def snapshot_marks(snap: Snapshot, symbols: Sequence[str]) -> dict[str, list[Mark]]:
    """The marks of `symbols` as of the snapshot's read (its market clock)."""
    now = snap.market_now or snap.read_at
    out: dict[str, list[Mark]] = {}
    for symbol in symbols:
        marks = row_marks(
            symbol,
            now,
            halts=snap.halts,
            restrictions=snap.restrictions,
            highs=snap.highs,
            filings=snap.filings,
            leads=snap.leads,
        )
        if marks:
            out[symbol] = marks
    return out


def halted_now(snap: Snapshot) -> list[str]:
    """The names halted at the snapshot's read by a halt of that trading day, sorted (the
    feed also keeps years-old unresolved halts of delisted names: not news)."""
    now = snap.market_now or snap.read_at
    today = datetime.fromtimestamp(now, mh.ET).date()
    return sorted(
        s
        for s, h in snap.halts.items()
        if h.halted and datetime.fromtimestamp(h.halted_at, mh.ET).date() == today
    )


def marks_text(marks: list[Mark]) -> str:
    """The marks as one cell: `HALT LULD SSR`."""
    return " ".join(m.text for m in marks)


def halt_json(halt: HaltState | None) -> dict[str, object] | None:
    """A halt as the headless JSON carries it (times Unix seconds, market clock)."""
    if halt is None:
        return None
    return {
        "halted": halt.halted,
        "reason": halt.reason,
        "reason_text": halt.reason_text,
        "halted_at": halt.halted_at,
        "resume_quote_at": halt.resume_quote_at,
        "resume_trade_at": halt.resume_trade_at,
        "resumed_at": halt.resumed_at,
    }


def high_json(high: DayHigh | None) -> dict[str, object] | None:
    """A high of the day as the headless JSON carries it (`at` Unix seconds, market clock)."""
    if high is None:
        return None
    return {"high": high.high, "new_highs_today": high.count, "at": high.at}


def ssr_json(restriction: ShortSaleRestriction | None, day: date) -> dict[str, object] | None:
    """A Rule 201 restriction as the headless JSON carries it: the trigger day, and `day`
    (the day it is in force, US/Eastern)."""
    if restriction is None:
        return None
    return {
        "in_force": day.isoformat(),
        "trigger_day": restriction.trigger_day.isoformat(),
        "triggered_at": restriction.triggered_at,
        "source": restriction.source,
    }
