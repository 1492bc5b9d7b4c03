"""The viewer's side of a database another process collects for (see role.py).

A viewer reads: the collector's published state (about once a second), the tables when the
collector has stored something new (its `seq` moved), and the alerts it fired. It asks through
the database (refresh now, watchlist edits) and waits for the answer. It spends no credits,
opens no stream, starts no market and fires no alert of its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import anyio

from . import queries
from .engine.store_thread import StoreThread
from .models import AlertEvent
from .role import CollectorLock, CollectorState, StateClock, read_state
from .store import Store

log = logging.getLogger(__name__)

#: Seconds between two looks at the collector's state (a change reaches the screen within
#: this plus one read of the tables).
POLL_EVERY = 0.25
#: Seconds between two tries of the collector's lock (a takeover within about this).
TRY_LOCK_EVERY = 1.0
#: Seconds a request waits for the collector's answer.
ANSWER_WITHIN = 10.0


class NoAnswer(ValueError):
    """The collector did not answer a request in time (it is busy, hung, or gone)."""


class Viewer:
    """Follows the collector of `db_path` until its lock can be taken.

    Args:
        db_path: the database.
        lock: the role's lock, not held (`follow` returns once it holds it).
        wall: the wall clock (Unix seconds).
    """

    def __init__(
        self, db_path: Path, lock: CollectorLock, *, wall: Callable[[], float] = time.time
    ):
        self.db_path = db_path
        self.lock = lock
        self.wall = wall
        self.store = StoreThread(db_path)
        self.state: CollectorState | None = None
        self.clock = StateClock(CollectorState(), wall)
        self._seq = -1
        self._last_alert = -1

    async def start(self) -> None:
        await self.store.start()
        await self.read_state()
        # The alerts fired before this viewer came are on the alerts screen, not news.
        self._last_alert = await self.store.call(queries.last_alert_id)

    async def close(self) -> None:
        with anyio.CancelScope(shield=True):
            await self.store.close()

    async def read_state(self) -> CollectorState | None:
        state = await self.store.call(read_state)
        if state is not None:
            self.state = state
            self.clock.state = state
        return state

    @property
    def collector(self) -> str:
        """Who collects, in words: `momoscan collect (pid 4242)`."""
        return self.state.who() if self.state is not None else "another momoscan"

    async def follow(
        self,
        on_state: Callable[[CollectorState], None],
        on_data: Callable[[], None],
        on_alerts: Callable[[Sequence[AlertEvent]], None] | None = None,
    ) -> None:
        """Show the collector until it goes: `on_state` with each state read, `on_data` when
        it stored something new (re-read the tables), `on_alerts` with what it fired since.
        Returns once this process holds the collector's lock (the caller takes over)."""
        tried = 0.0
        while True:
            state = await self.read_state()
            if state is not None:
                on_state(state)
                if state.seq != self._seq:
                    self._seq = state.seq
                    on_data()
            if on_alerts is not None:
                fresh = await self.store.call(queries.alerts_after, self._last_alert)
                if fresh:
                    self._last_alert = fresh[-1][0]
                    on_alerts([event for _, event in fresh])
            now = self.wall()
            if now - tried >= TRY_LOCK_EVERY or (state is not None and state.stopped_at):
                tried = now
                if self.lock.try_acquire():
                    return
            await anyio.sleep(POLL_EVERY)

    async def ask(self, kind: str, arg: str = "", *, within: float = ANSWER_WITHIN) -> str:
        """Ask the collector (`kind`: refresh, watch, unwatch) and wait for its answer.

        Raises:
            ValueError: the collector refused (its words: an unknown symbol, say).
            NoAnswer: no answer within `within` seconds.
        """
        request = await self.store.call(Store.post_request, kind, arg, at=self.wall())
        with anyio.move_on_after(within):
            while True:
                answer = await self.store.call(Store.request_answer, request)
                if answer is not None:
                    ok, text = answer
                    if not ok:
                        raise ValueError(text)
                    return text
                await anyio.sleep(0.1)
        raise NoAnswer(f"{self.collector} did not answer within {within:g} s")

    async def watch(self, text: str, *, add: bool = True) -> tuple[str, bool]:
        """Add (or remove) a watchlist symbol through the collector, as `Engine.watch` does:
        (its canonical spelling, whether the list changed).

        Raises:
            ValueError: the collector refused it, or did not answer (NoAnswer)."""
        answer = await self.ask("watch" if add else "unwatch", text)
        symbol, _, outcome = answer.partition(" ")
        return symbol, outcome in ("added", "removed")
