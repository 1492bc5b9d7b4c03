"""Market clocks. The engine asks a clock what time it is on the market; live, that is the real
time in New York; on the simulated market, it is the simulation's own session time."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from .market_hours import ET


class MarketClock(Protocol):
    def now(self) -> datetime:
        """The market's current time, timezone-aware."""
        ...


class RealClock:
    def now(self) -> datetime:
        return datetime.now(ET)


class FixedClock:
    """A clock that only moves when told to (tests, snapshots)."""

    def __init__(self, at: datetime):
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


class SpeedClock:
    """Starts at `start` and runs `speed` times faster than the wall clock."""

    def __init__(self, start: datetime, speed: float, wall: Callable[[], float] = time.time):
        if start.tzinfo is None:
            raise ValueError("SpeedClock needs an aware datetime")
        self.start = start
        self.speed = speed
        self._wall = wall
        self._wall0 = wall()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(self._wall() - self._wall0) * self.speed)
