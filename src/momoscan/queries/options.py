"""Options: the watch set's volume shares, OCC's whole-market view, the daily top 10 and
its history, and each underlying's contracts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from ..models import Leader
from ..store import Store


@dataclass(frozen=True, slots=True)
class ShareRow:
    """One underlying's options volume in the panel (or, with `grouped`, the rest together).

    `share` is of the view's total, 0..1: the fresh chains of the watch set, or all US-listed
    options volume in the whole-market view; 0 for a stale chain, which is left out of it.
    `as_of` is the source's own time (Unix seconds; Cboe's chain timestamp) and `age` its age
    in seconds by the market clock at the read; both None in the whole-market view (OCC's
    day totals have a day, not a time)."""

    underlying: str
    total: int
    calls: int
    puts: int
    share: float
    is_new: bool
    reason: str
    unusual: int  # contracts with volume far above open interest
    as_of: float | None
    age: float | None = None
    stale: bool = False  # older than the panel's limit: dimmed, not in the shares
    grouped: int = 0  # the "all others" row: how many underlyings it stands for


@dataclass(frozen=True, slots=True)
class MarketShares:
    """The whole-market view: one OCC day's every-underlying totals, the top names and the
    rest as one "all others" row, each a share of all US-listed options volume."""

    day: date
    total: int  # contracts, every underlying of the day
    underlyings: int
    rows: list[ShareRow]


@dataclass(frozen=True, slots=True)
class ContractRow:
    contract: str
    expiry: date
    days_to_expiry: int
    strike: float
    right: str
    volume: int
    open_interest: int
    vol_oi: float | None
    iv: float | None
    last: float | None
    last_trade: int | None  # Unix seconds
    pct_of_underlying: float
    unusual: bool


def latest_cboe_day(store: Store) -> date | None:
    row = store.rows("SELECT MAX(day) AS day FROM option_underlyings WHERE source = 'cboe'")
    return date.fromisoformat(row[0]["day"]) if row and row[0]["day"] else None


def option_shares(
    store: Store,
    day: date,
    *,
    unusual_ratio: float = 1.25,
    unusual_min_volume: int = 500,
    now: float | None = None,
    max_age: float | None = None,
) -> list[ShareRow]:
    """Each watched underlying's options volume on `day`, its chain's age and its share of
    the fresh chains' total, with the newest daily NEW flags and a count of unusual contracts.

    Args:
        now: the market clock (Unix seconds) the chains' own times are aged against.
        max_age: a chain older than this many seconds is stale: kept in the list (after the
            fresh ones), with a share of 0, since figures from an earlier hour are not part of
            this moment's split. None: no limit.
    """
    key = day.isoformat()
    rows = store.rows(
        "SELECT u.underlying, u.total, u.calls, u.puts, u.as_of, "
        "COALESCE(l.is_new, 0) AS is_new, COALESCE(l.reason, '') AS reason, "
        "(SELECT COUNT(*) FROM option_contracts c WHERE c.day = u.day "
        " AND c.underlying = u.underlying AND c.volume >= ? "
        " AND c.volume >= ? * c.open_interest) AS unusual "
        "FROM option_underlyings u "
        "LEFT JOIN option_leaders l ON l.underlying = u.underlying "
        " AND l.day = (SELECT MAX(day) FROM option_leaders WHERE day <= ?) "
        "WHERE u.day = ? AND u.source = 'cboe' AND u.total > 0 "
        "ORDER BY u.total DESC, u.underlying",
        (unusual_min_volume, unusual_ratio, key, key),
    )

    def age_of(r: dict[str, Any]) -> float | None:
        if now is None or r["as_of"] is None:
            return None
        return max(0.0, now - float(r["as_of"]))

    def is_stale(r: dict[str, Any]) -> bool:
        age = age_of(r)
        return max_age is not None and age is not None and age > max_age

    fresh = [r for r in rows if not is_stale(r)]
    stale = [r for r in rows if is_stale(r)]
    grand = sum(r["total"] for r in fresh) or 1
    return [
        ShareRow(
            r["underlying"],
            r["total"],
            r["calls"],
            r["puts"],
            0.0 if old else r["total"] / grand,
            bool(r["is_new"]),
            r["reason"],
            r["unusual"],
            r["as_of"],
            age=age_of(r),
            stale=old,
        )
        for group, old in ((fresh, False), (stale, True))
        for r in group
    ]


#: Names shown on their own in the whole-market view; the rest are one "all others" row.
MARKET_TOP = 20
OTHERS = "All others"


def market_shares(store: Store, top: int = MARKET_TOP) -> MarketShares | None:
    """OCC's newest day: its `top` underlyings by volume and everything else as one row, each
    a share of that day's volume in all US-listed options (ETFs and indexes included). None
    before any OCC day is stored."""
    row = store.conn.execute(
        "SELECT MAX(day) FROM option_underlyings WHERE source = 'occ'"
    ).fetchone()
    if not row or not row[0]:
        return None
    key = row[0]
    totals = store.conn.execute(
        "SELECT COALESCE(SUM(total), 0), COALESCE(SUM(calls), 0), COALESCE(SUM(puts), 0), "
        "COUNT(*) FROM option_underlyings WHERE day = ? AND source = 'occ' AND total > 0",
        (key,),
    ).fetchone()
    grand, calls, puts, count = (int(x) for x in totals)
    names = store.rows(
        "SELECT u.underlying, u.total, u.calls, u.puts, COALESCE(l.is_new, 0) AS is_new, "
        "COALESCE(l.reason, '') AS reason FROM option_underlyings u "
        "LEFT JOIN option_leaders l ON l.day = u.day AND l.underlying = u.underlying "
        "WHERE u.day = ? AND u.source = 'occ' AND u.total > 0 "
        "ORDER BY u.total DESC, u.underlying LIMIT ?",
        (key, top),
    )
    base = grand or 1
    rows = [
        ShareRow(
            r["underlying"],
            r["total"],
            r["calls"],
            r["puts"],
            r["total"] / base,
            bool(r["is_new"]),
            r["reason"],
            0,
            None,
        )
        for r in names
    ]
    rest = count - len(rows)
    if rest > 0:
        rest_total = grand - sum(r.total for r in rows)
        rows.append(
            ShareRow(
                OTHERS,
                rest_total,
                calls - sum(r.calls for r in rows),
                puts - sum(r.puts for r in rows),
                rest_total / base,
                False,
                "",
                0,
                None,
                grouped=rest,
            )
        )
    return MarketShares(date.fromisoformat(key), grand, count, rows)


def _leader(r: dict[str, object]) -> Leader:
    return Leader(
        day=date.fromisoformat(str(r["day"])),
        rank=int(r["rank"]),  # type: ignore[call-overload]
        underlying=str(r["underlying"]),
        total=int(r["total"]),  # type: ignore[call-overload]
        calls=int(r["calls"]),  # type: ignore[call-overload]
        puts=int(r["puts"]),  # type: ignore[call-overload]
        is_new=bool(r["is_new"]),
        streak=int(r["streak"]),  # type: ignore[call-overload]
        rank_change=None if r["rank_change"] is None else int(r["rank_change"]),  # type: ignore[call-overload]
        volume_ratio=None if r["volume_ratio"] is None else float(r["volume_ratio"]),  # type: ignore[arg-type]
        reason=str(r["reason"] or ""),
    )


def leaders_history(store: Store, days: int = 20) -> dict[date, list[Leader]]:
    """The daily top 10 of the newest `days` days on record, newest first."""
    wanted = store.rows(
        "SELECT DISTINCT day FROM option_leaders ORDER BY day DESC LIMIT ?", (days,)
    )
    if not wanted:
        return {}
    oldest = wanted[-1]["day"]
    out: dict[date, list[Leader]] = {}
    for r in store.rows(
        "SELECT * FROM option_leaders WHERE day >= ? ORDER BY day DESC, rank", (oldest,)
    ):
        leader = _leader(r)
        out.setdefault(leader.day, []).append(leader)
    return out


def daily_totals(store: Store, underlying: str, days: int = 40) -> list[tuple[date, int]]:
    """`underlying`'s options volume (contracts, OCC) on each of the newest `days` days on
    record, oldest first; a day it did not trade is 0."""
    wanted = store.rows(
        "SELECT DISTINCT day FROM option_underlyings WHERE source = 'occ' "
        "ORDER BY day DESC LIMIT ?",
        (days,),
    )
    if not wanted:
        return []
    totals = dict(
        store.conn.execute(
            "SELECT day, total FROM option_underlyings WHERE source = 'occ' "
            "AND underlying = ? AND day >= ?",
            (underlying, wanted[-1]["day"]),
        ).fetchall()
    )
    return [(date.fromisoformat(r["day"]), int(totals.get(r["day"], 0))) for r in reversed(wanted)]


def latest_leaders(store: Store) -> tuple[date | None, list[Leader]]:
    history = leaders_history(store, 1)
    for day, rows in history.items():
        return day, rows
    return None, []


def latest_leader_symbols(store: Store) -> list[str]:
    return [x.underlying for x in latest_leaders(store)[1]]


def contracts(
    store: Store,
    day: date,
    underlying: str,
    *,
    unusual_ratio: float = 1.25,
    unusual_min_volume: int = 500,
) -> list[ContractRow]:
    """An underlying's contracts for the day, most traded first."""
    rows = store.rows(
        "SELECT contract, expiry, strike, right, volume, open_interest, iv, last, last_trade "
        "FROM option_contracts WHERE day = ? AND underlying = ? ORDER BY volume DESC, contract",
        (day.isoformat(), underlying),
    )
    total = sum(r["volume"] for r in rows) or 1
    out = []
    for r in rows:
        expiry = date.fromisoformat(r["expiry"])
        volume, oi = r["volume"], r["open_interest"]
        vol_oi = volume / oi if oi else None
        out.append(
            ContractRow(
                contract=r["contract"],
                expiry=expiry,
                days_to_expiry=(expiry - day).days,
                strike=r["strike"],
                right=r["right"],
                volume=volume,
                open_interest=oi,
                vol_oi=vol_oi,
                iv=r["iv"],
                last=r["last"],
                last_trade=r["last_trade"],
                pct_of_underlying=volume / total,
                unusual=volume >= unusual_min_volume and (oi == 0 or volume >= unusual_ratio * oi),
            )
        )
    return out


def contract_days(store: Store) -> set[date]:
    """The days with per-contract rows on record (the retention is [options] contract_days)."""
    return {
        date.fromisoformat(row[0])
        for row in store.conn.execute("SELECT DISTINCT day FROM option_contracts")
    }


def unusual_contracts(
    store: Store,
    day: date,
    *,
    unusual_ratio: float = 1.25,
    unusual_min_volume: int = 500,
    limit: int = 25,
) -> list[dict[str, object]]:
    """The day's contracts with volume far above open interest, biggest first."""
    rows = store.rows(
        "SELECT underlying, contract, expiry, strike, right, volume, open_interest, iv, last "
        "FROM option_contracts WHERE day = ? AND volume >= ? AND volume >= ? * open_interest "
        "ORDER BY volume DESC, contract LIMIT ?",
        (day.isoformat(), unusual_min_volume, unusual_ratio, limit),
    )
    for r in rows:
        oi = r["open_interest"]
        r["vol_oi"] = round(r["volume"] / oi, 2) if oi else None
    return rows
