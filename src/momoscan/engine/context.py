"""What every step of the refresh cycle shares: settings, the store's writer thread, the market
clock, the wall clock and the mode, plus the report a cycle fills in."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..clock import MarketClock
from ..config import Settings
from ..models import Leader, Progress
from .store_thread import StoreThread

ProgressCallback = Callable[[Progress], None]


@dataclass
class StepContext:
    """The run's shared pieces, handed to each step (built once by the Engine)."""

    settings: Settings
    store: StoreThread
    clock: MarketClock
    mode: str  # "demo" or "live"
    wall: Callable[[], float] = time.time


@dataclass
class RefreshReport:
    run_id: int
    status: str = "running"  # ok | partial | failed | skipped
    symbols: int = 0
    quotes: int = 0
    errors: int = 0
    credits_used: int = 0
    chains: int = 0
    occ_days: int = 0
    messages: list[str] = field(default_factory=list)
    new_entrants: list[Leader] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0

    @property
    def failed(self) -> bool:
        return self.status == "failed"


class RefreshFailed(Exception):
    """The refresh cannot go on (bad key...): the message says what to do."""
