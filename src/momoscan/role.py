"""Collector or viewer: one process collects for a database, any number read it.

The collector is the process holding the lock beside the database (`<db>.collector.lock`,
an OS file lock through `filelock`: flock on Unix, released by the kernel when its holder
dies, however it dies). It alone spends credits, holds the price stream, runs the simulated
market in the demo, fires alerts and writes quotes. It publishes what a viewer shows of it
(`CollectorState`) in the database's `meta` table about once a second.

A viewer (a second terminal, a serve tab, a `--once` beside a running collector) reads the
database, shows the collector's state, and sends its requests (refresh now, watchlist edits)
through the `collector_requests` table. It tries the lock about once a second: when the
collector has gone, one viewer gets it and becomes the collector.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from filelock import FileLock, Timeout

from .market_hours import ET
from .store import Store, StoreError

log = logging.getLogger(__name__)

#: The `meta` key the collector publishes its state under.
STATE_KEY = "collector"
#: A published state older than this (wall seconds) is a collector that stopped publishing
#: (hung, or its machine suspended): viewers say so.
STALE_AFTER = 10.0


def lock_path(db_path: Path) -> Path:
    """The collector's lock file: beside the database, one per database file."""
    return db_path.with_name(db_path.name + ".collector.lock")


class CollectorLock:
    """The collector's role for one database, held while this object holds the lock.

    `try_acquire()` never waits. The lock is the kernel's: a process that dies (killed,
    crashed, its terminal closed) releases it with its file descriptors; there is no stale
    lock to clean up. The lock file itself stays (an empty file); it is not the state."""

    def __init__(self, db_path: Path):
        self.path = lock_path(db_path)
        self._lock = FileLock(str(self.path), timeout=0, thread_local=False)

    @property
    def held(self) -> bool:
        return bool(self._lock.is_locked)

    def try_acquire(self) -> bool:
        """Take the role if no other process holds it: True when this process now holds it.

        Raises:
            StoreError: the lock file cannot be created (a read-only directory, say).
        """
        if self.held:
            return True
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            return False
        except OSError as exc:
            raise StoreError(
                f"cannot create the collector's lock file {self.path} ({exc.strerror or exc}): "
                "make its directory writable, or point --db at another file"
            ) from None
        return True

    def release(self) -> None:
        if self.held:
            self._lock.release(force=True)


@dataclass
class CollectorState:
    """What the collector publishes for its viewers (wall-clock Unix seconds throughout;
    `clock_*` give the market clock: `clock_market` at `clock_wall`, running `clock_speed`
    market seconds per wall second: 1 live, the demo's speed in demo, 0 for a stopped clock).
    """

    pid: int = 0
    host: str = ""
    command: str = ""  # what runs the collector: "momoscan", "momoscan collect", ...
    since: float = 0.0
    heartbeat: float = 0.0
    mode: str = "demo"
    #: What defines the demo's session (its configured date and start, seed and size): a
    #: collector with other settings starts its own session rather than going on with this.
    session: str = ""
    universe: str = ""
    faults: str = ""
    clock_wall: float = 0.0
    clock_market: float = 0.0
    clock_speed: float = 1.0
    plan_limit: int = 0
    credits_used: int = 0
    credit_note: str = ""
    stream: str = ""  # the stream's status line ("" when streaming is off)
    stream_state: str = "off"  # live, stalled, reconnecting, off
    coverage: str = ""
    refreshing: bool = False
    progress: list[Any] | None = None  # Progress's fields, while a cycle runs
    cycles: int = 0
    last_cycle_at: float | None = None  # when the last cycle finished (wall)
    last_status: str = ""
    last_summary: str = ""
    error: str = ""
    #: Bumped whenever the collector stored something a screen shows (a quote batch, the
    #: options, a cycle's end, streamed prices): a viewer re-reads the tables when it moves.
    seq: int = 0
    #: When the collector stopped (it quit; a viewer takes over): None while it runs.
    stopped_at: float | None = None
    #: Names the collector streams now (the hot set), for the viewer that takes over.
    streaming: list[str] = field(default_factory=list)

    def market_now(self, wall: float) -> datetime:
        """The collector's market clock at wall-clock second `wall` (ET)."""
        seconds = self.clock_market + (wall - self.clock_wall) * self.clock_speed
        return datetime.fromtimestamp(seconds, ET)

    def age(self, wall: float) -> float:
        """Seconds since the collector last published."""
        return max(0.0, wall - self.heartbeat)

    def who(self) -> str:
        """`momoscan collect (pid 4242)`, with the host when it is another machine's."""
        text = f"{self.command or 'momoscan'} (pid {self.pid}"
        if self.host and self.host != socket.gethostname():
            text += f" on {self.host}"
        return text + ")"

    def to_json(self) -> str:
        return orjson.dumps(asdict(self)).decode()

    @classmethod
    def from_json(cls, text: str) -> CollectorState | None:
        """The state from its JSON; None for text that is not one (logged)."""
        try:
            data = orjson.loads(text)
            known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
            return cls(**known)
        except (orjson.JSONDecodeError, TypeError, AttributeError) as exc:
            log.warning("the collector's published state could not be read: %s", exc)
            return None


def read_state(store: Store) -> CollectorState | None:
    """The last state a collector published in `store` (None: never)."""
    text = store.get_meta(STATE_KEY)
    return CollectorState.from_json(text) if text else None


def write_state(store: Store, state: CollectorState) -> None:
    store.set_meta(STATE_KEY, state.to_json())


def this_process() -> tuple[int, str]:
    return os.getpid(), socket.gethostname()


class StateClock:
    """A viewer's market clock: the collector's, read from its published state (ET)."""

    def __init__(self, state: CollectorState, wall: Any):
        self.state = state
        self._wall = wall

    def now(self) -> datetime:
        return self.state.market_now(self._wall())


def continued_start(
    state: CollectorState | None, wall: float, max_gap: float = 60.0, session: str = ""
) -> datetime | None:
    """Where a demo clock taking over from `state` starts: the previous collector's market
    time now, when it published within `max_gap` wall seconds and ran the same `session`
    (`demo_session`); None otherwise (a fresh start: the demo's clock starts at its
    configured time)."""
    if state is None or state.mode != "demo" or state.heartbeat <= 0:
        return None
    if wall - state.heartbeat > max_gap or state.session != session:
        return None
    return state.market_now(wall)
