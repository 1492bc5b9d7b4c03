"""The universe: where its listings came from and when, and the tickers in it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from ..models import Ticker
from ..store import Store


@dataclass(frozen=True, slots=True)
class UniverseInfo:
    source: str
    as_of: date | None
    size: int
    signature: str
    fetched_at: float | None
    warning: str = ""


def universe_info(store: Store) -> UniverseInfo:
    as_of = store.get_meta("universe_date")
    fetched = store.get_meta("universe_fetched_at")
    return UniverseInfo(
        source=store.get_meta("universe_source", "") or "",
        as_of=date.fromisoformat(as_of) if as_of else None,
        size=int(store.get_meta("universe_size", "0") or 0),
        signature=store.get_meta("universe_signature", "") or "",
        fetched_at=float(fetched) if fetched else None,
        warning=store.get_meta("universe_warning", "") or "",
    )


_TICKER_SELECT = "SELECT symbol, name, exchange, mic, cap_tier, sector, category FROM tickers"


def _ticker(r: dict[str, Any]) -> Ticker:
    return Ticker(
        r["symbol"],
        r["name"],
        r["exchange"] or "",
        r["mic"] or "",
        r["cap_tier"] or "",
        r["sector"] or "",
        r["category"] or "",
    )


def universe_tickers(store: Store) -> list[Ticker]:
    return [_ticker(r) for r in store.rows(f"{_TICKER_SELECT} ORDER BY symbol")]


def universe_symbol_list(store: Store) -> list[str]:
    return store.universe_symbols()


def ticker(store: Store, symbol: str) -> Ticker | None:
    rows = store.rows(f"{_TICKER_SELECT} WHERE symbol = ?", (symbol,))
    return _ticker(rows[0]) if rows else None
