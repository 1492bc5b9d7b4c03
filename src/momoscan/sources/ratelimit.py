"""The Twelve Data credit budget: never more than the plan's credits in any 60-second span.

Twelve Data charges one credit per symbol and resets "every minute"; whether that minute is the
clock's or a rolling one is not documented. A ledger of what was sent in the last window, sliding
with time, satisfies both: any clock-aligned minute is also a 60-second span. A leaky bucket
(aiolimiter's `AsyncLimiter(C, 60)`) does not: it lets a full bucket out at once and refills while
that burst is still inside the server's window, so close to 2xC credits can land in one minute.

The window is widened by a small margin so that network jitter between our clock (when we send)
and the server's (when it counts) cannot push two windows' credits into one of the server's.

Under the ledger, a pacer (a token bucket refilling at the plan's rate, a couple of steps deep)
spreads grants out once a sweep has used its opening burst (a window's credits, at once): a
tenth of the plan, or a full batch, at a time. Without it, a long sweep grants a
window's credits in one burst every window + margin seconds, drifting against the server's
clock minutes until one minute gets none (about once an hour); paced, every minute gets its
share: the plan's rate less the margin, about 98 %.

The ledger and the pacer run on a monotonic clock: the wall clock jumps (NTP, a VM resumed),
and on it a jump back an hour made the last minute's grants look an hour in the future, which
blocked every grant for that hour; a jump forward expired them at once, and a window's credits
could go out twice in one real minute. Stamps that come in or go out (a ledger saved in the
database, credits the server reports) are wall-clock seconds, converted at the edge; one
stamped in the future (saved before the wall clock went back) counts as spent now.

Credits belong to the key, not the process: given a `KeyLedger` (`shared`, see key_ledger.py),
a budget makes a grant only when the key's ledger on disk also has room for it, counting every
process on the machine that uses the key, and waits (in the same arrival order, behind the same
pacer) until the other processes' credits leave the window. Its own ledger still runs beside
it, on the monotonic clock; the shared one is on the wall clock, the only one processes share.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:
    from .key_ledger import KeyLedger

Clock = Callable[[], float]

#: Twelve Data's most symbols per /quote request: the pacer hands out credits a batch at a time.
BATCH = 120
Sleep = Callable[[float], Awaitable[None]]
#: Seconds before asking the shared ledger again when another process took the room it showed.
RETRY = 0.05


class CreditBudget:
    """A sliding-window credit ledger.

    Invariant: the credits granted in any interval of `window + margin` seconds of `clock` time
    never exceed `limit`. `take()` waits (with `sleep`) until a grant fits; concurrent callers are
    served in arrival order.

    `clock` paces (monotonic seconds; by default `time.monotonic`), so a wall-clock jump
    either way neither stalls nor overspends. `wall` reads the stamps that cross the edge:
    `spent`, `record(at=...)` and `entries()` are in its seconds (Unix time by default; the
    same fake clock as `clock` when a test gives only that one). A stamp later than `wall()`
    is clamped to now.

    With `shared`, the invariant holds for every budget on the key's ledger together (on
    `wall` time): each grant is reserved there first, `used()` counts every process's
    credits, and credits learned from the server (`record`, `sync_left`) go there too. A
    `record` with a stamp (a grant restored from the database) is added there only if the
    ledger does not already hold it, so a restart does not count its last minute twice.
    """

    def __init__(
        self,
        limit: int,
        *,
        window: float = 60.0,
        margin: float = 1.0,
        clock: Clock | None = None,
        wall: Clock | None = None,
        sleep: Sleep = anyio.sleep,
        spent: Iterable[tuple[float, int]] = (),
        shared: KeyLedger | None = None,
    ):
        if limit < 1:
            raise ValueError("a credit budget needs a limit of at least 1")
        self.limit = limit
        self.window = window + margin
        self._clock: Clock = clock or time.monotonic
        self._wall: Clock = wall or clock or time.time
        self._sleep = sleep
        self._shared = shared
        # Stamped grants `record`ed for the shared ledger, merged there (once, all together,
        # so that each matches its own entry) before the ledger is next read.
        self._unmerged: list[tuple[float, int]] = []
        self._ledger: deque[tuple[float, int]] = deque(
            sorted((self._from_wall(at), c) for at, c in spent)
        )
        self._in_ledger = sum(c for _, c in self._ledger)
        self._lock = anyio.Lock()
        self.total_granted = 0
        # The pacer starts with what the ledger leaves: a restart does not burst again.
        self._tokens = float(max(0, limit - self.used()))
        self._tokens_at = self._clock()

    def _from_wall(self, at: float) -> float:
        """A wall-clock stamp on the pacing clock; one in the future counts as now."""
        return self._clock() - max(0.0, self._wall() - at)

    # -- the ledger --------------------------------------------------------------------------

    def _expire(self, now: float) -> None:
        horizon = now - self.window
        ledger = self._ledger
        while ledger and ledger[0][0] <= horizon:
            self._in_ledger -= ledger.popleft()[1]

    def used(self) -> int:
        """Credits granted within the current window (with `shared`: by every process on the
        key, or by this one if it knows of more)."""
        self._expire(self._clock())
        if self._shared is None:
            return self._in_ledger
        return max(self._in_ledger, self._shared_used())

    def _merge_unmerged(self) -> None:
        if self._shared is not None and self._unmerged:
            spent, self._unmerged = self._unmerged, []
            self._shared.merge(spent, now=self._wall())

    def _shared_used(self) -> int:
        assert self._shared is not None
        self._merge_unmerged()
        return self._shared.used(self._wall(), self.window)

    def available(self) -> int:
        return max(0, self.limit - self.used())

    @property
    def step(self) -> int:
        """Credits a paced grant waits for: a tenth of the plan, at most a batch."""
        return min(BATCH, max(1, math.ceil(self.limit / 10)))

    @property
    def depth(self) -> int:
        """The pacer's depth once the opening burst is spent: two steps, so that a grant taken
        a little late loses nothing, and no deeper, or bursts would come back."""
        return min(self.limit, 2 * self.step)

    def _refill(self, now: float) -> None:
        # Above the depth only at the start (the opening burst): no refill until it is spent.
        if self._tokens < self.depth:
            gained = (now - self._tokens_at) * self.limit / self.window
            self._tokens = min(float(self.depth), self._tokens + gained)
        self._tokens_at = now

    def _time_until(self, credits: int, paced_credits: int = 0) -> float:
        """Seconds until `credits` more fit the window and `paced_credits` the pacer."""
        now = self._clock()
        self._expire(now)
        self._refill(now)
        paced = max(0.0, (paced_credits - self._tokens) * self.window / self.limit)
        excess = self._in_ledger + credits - self.limit
        if excess <= 0:
            return paced
        freed = 0
        for at, amount in self._ledger:
            freed += amount
            if freed >= excess:
                return max(paced, at + self.window - now)
        return self.window  # asks for more than the limit: cannot happen via take()

    def record(self, credits: int, at: float | None = None) -> None:
        """Count credits spent outside `take()` (learned from the server or a saved ledger)
        at `at` (wall-clock seconds; a stamp in the future counts as now), or now."""
        if credits <= 0:
            return
        if self._shared is not None:
            if at is None:
                self._shared.record(credits, self._wall(), now=self._wall())
            else:
                self._unmerged.append((at, credits))
        stamp = self._clock() if at is None else self._from_wall(at)
        self._ledger.append((stamp, credits))
        if len(self._ledger) > 1 and self._ledger[-2][0] > stamp:
            self._ledger = deque(sorted(self._ledger))
        self._in_ledger += credits
        self._tokens = max(0.0, min(self._tokens, float(self.limit - self._in_ledger)))

    def entries(self) -> list[tuple[float, int]]:
        """The grants still inside the window, oldest first, stamped in wall-clock seconds
        (to carry over to another budget: `spent`)."""
        now = self._clock()
        self._expire(now)
        offset = self._wall() - now
        return [(at + offset, credits) for at, credits in self._ledger]

    # -- granting ----------------------------------------------------------------------------

    async def take(self, want: int, *, minimum: int | None = None) -> int:
        """Wait until credits are free and take up to `want` of them.

        Returns as soon as at least `minimum` credits fit (by default the pacer's step, or
        `want` if smaller), granting as many as fit up to `want`: a batch is never larger than
        the credits left.
        """
        if want < 1:
            return 0
        floor = min(max(1, minimum if minimum is not None else self.step), want, self.limit)
        # The pacer waits for a step's worth; the window for any room at all, so that a
        # window's last few credits are spent, not stranded.
        room = min(floor, 1 if minimum is None else floor)
        async with self._lock:
            while True:
                wait = self._time_until(room, min(floor, self.depth))
                if wait <= 0:
                    grant = min(want, self.limit - self._in_ledger)
                    if minimum is None:
                        grant = min(grant, max(1, int(self._tokens + 1e-9)))
                    if self._shared is None:
                        break
                    # The key's ledger too: the other processes' credits count.
                    self._merge_unmerged()
                    now = self._wall()
                    grant = self._shared.reserve(grant, self.limit, self.window, now, minimum=room)
                    if grant > 0:
                        break
                    wait = max(RETRY, self._shared.wait(room, self.limit, self.window, now))
                # Sleep a hair past the expiry so the entry is gone when we look again.
                await self._sleep(wait + 1e-3)
            # An explicit minimum (a retry of a whole batch) may overdraw the pacer: the debt
            # slows the grants after it. The window above is never overdrawn.
            self._tokens -= grant
            self._ledger.append((self._clock(), grant))
            self._in_ledger += grant
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
        self._tokens = float(max(0, self.limit - self.used()))
