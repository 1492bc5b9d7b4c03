"""The Twelve Data credit budget: never more than the plan's credits in any 60-second span.

Twelve Data charges one credit per symbol and resets "every minute"; whether that minute is the
clock's or a rolling one is not documented. A ledger of what was sent in the last window, sliding
with time, satisfies both: any clock-aligned minute is also a 60-second span. A leaky bucket
(aiolimiter's `AsyncLimiter(C, 60)`) does not: it lets a full bucket out at once and refills while
that burst is still inside the server's window, so close to 2xC credits can land in one minute.

The window is widened by a small margin so that network jitter between our clock (when we send)
and the server's (when it counts) cannot push two windows' credits into one of the server's.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable

import anyio

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class CreditBudget:
    """A sliding-window credit ledger.

    Invariant: the credits granted in any interval of `window + margin` seconds of `clock` time
    never exceed `limit`. `take()` waits (with `sleep`) until a grant fits; concurrent callers are
    served in arrival order. The clock is the wall clock, so that the ledger can be saved and
    carried over to the next run (`spent`).
    """

    def __init__(
        self,
        limit: int,
        *,
        window: float = 60.0,
        margin: float = 1.0,
        clock: Clock = time.time,
        sleep: Sleep = anyio.sleep,
        spent: Iterable[tuple[float, int]] = (),
    ):
        if limit < 1:
            raise ValueError("a credit budget needs a limit of at least 1")
        self.limit = limit
        self.window = window + margin
        self._clock = clock
        self._sleep = sleep
        self._ledger: deque[tuple[float, int]] = deque(sorted(spent))
        self._in_ledger = sum(c for _, c in self._ledger)
        self._lock = anyio.Lock()
        self.total_granted = 0

    # -- the ledger --------------------------------------------------------------------------

    def _expire(self, now: float) -> None:
        horizon = now - self.window
        ledger = self._ledger
        while ledger and ledger[0][0] <= horizon:
            self._in_ledger -= ledger.popleft()[1]

    def used(self) -> int:
        """Credits granted within the current window."""
        self._expire(self._clock())
        return self._in_ledger

    def available(self) -> int:
        return max(0, self.limit - self.used())

    def _time_until(self, credits: int) -> float:
        """Seconds until `credits` more fit in the window (0 if they fit now)."""
        now = self._clock()
        self._expire(now)
        excess = self._in_ledger + credits - self.limit
        if excess <= 0:
            return 0.0
        freed = 0
        for at, amount in self._ledger:
            freed += amount
            if freed >= excess:
                return max(0.0, at + self.window - now)
        return self.window  # asks for more than the limit: cannot happen via take()

    def record(self, credits: int, at: float | None = None) -> None:
        """Count credits spent outside `take()` (a phantom spend learned from the server)."""
        if credits <= 0:
            return
        stamp = self._clock() if at is None else at
        self._ledger.append((stamp, credits))
        if len(self._ledger) > 1 and self._ledger[-2][0] > stamp:
            self._ledger = deque(sorted(self._ledger))
        self._in_ledger += credits

    def entries(self) -> list[tuple[float, int]]:
        """The grants still inside the window, oldest first (to persist across restarts)."""
        self._expire(self._clock())
        return list(self._ledger)

    # -- granting ----------------------------------------------------------------------------

    async def take(self, want: int, *, minimum: int = 1) -> int:
        """Wait until credits are free and take up to `want` of them.

        Returns as soon as at least `minimum` credits fit, granting as many as fit up to `want`:
        a batch is never larger than the credits left, and credits left over at the end of a
        window are spent rather than stranded (a stranded credit is rate lost for good).
        """
        if want < 1:
            return 0
        floor = min(max(1, minimum), want, self.limit)
        async with self._lock:
            while True:
                wait = self._time_until(floor)
                if wait <= 0:
                    break
                # Sleep a hair past the expiry so the entry is gone when we look again.
                await self._sleep(wait + 1e-3)
            grant = min(want, self.limit - self._in_ledger)
            self.record(grant)
            self.total_granted += grant
            return grant

    def sync_left(self, left: int) -> None:
        """Resynchronise from the server's `api-credits-left`.

        If the server says fewer credits are left than the ledger thinks, something else spent
        them (another process, a previous run): count the difference as spent now. If it says
        more, keep the ledger: being early costs a little rate, being late costs a 429.
        """
        gap = self.available() - max(0, left)
        if gap > 0:
            self.record(gap)

    def set_limit(self, limit: int) -> None:
        self.limit = max(1, limit)


def minutes_for(symbols: int, limit: int) -> int:
    """Whole minutes a sweep of `symbols` takes at `limit` credits a minute."""
    return max(1, math.ceil(symbols / max(1, limit)))
