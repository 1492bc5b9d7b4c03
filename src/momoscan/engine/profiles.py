"""The volume profiles step: once a trading day, each name's usual intraday volume is built from
the stored history (store/profiles.py) for RVol at the time of day (rvol.py).

Run by the cycle before the quotes, from 04:00 ET of each trading day (the market clock's):
built in the engine's worker process from the database file, then stored through the store's
writer thread, whose quote writes read them from its memory.
A database that already holds the day's profiles (a restart, a `--once` run) is only read. A
build that fails costs nothing but the profiles: RVol is measured against the curve until the
next cycle builds them, and the cycle says so in one line.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import date

from .. import market_hours as mh
from ..sources.offload import THREADS, Offloader
from ..store import Store, StoreError
from ..store.profiles import build_volume_profiles, earlier_sessions
from .context import RefreshReport, StepContext

log = logging.getLogger(__name__)

SOURCE = "volume profiles"


def _plan(store: Store, day: date) -> tuple[int | None, list[tuple[float, float]]]:
    """On the store thread: how many names have `day`'s profiles when the table holds them
    (read into memory), else None and the sessions to build them from."""
    if store.volume_profiles_day() == day.isoformat():
        profiles = store.rvol_cache.profiles
        return (0 if profiles is None else len(profiles)), []
    return None, earlier_sessions(day)


class ProfileStep:
    """Builds the day's volume profiles once a trading day (see the module's docstring).

    Args:
        offload: where the build runs (the engine's worker process; threads in tests).
    """

    def __init__(self, ctx: StepContext, *, offload: Offloader = THREADS):
        self.ctx = ctx
        self.offload = offload
        self.day: date | None = None
        #: Names with a profile after the last build (the rest are measured by the curve).
        self.names = 0

    async def run(self, report: RefreshReport) -> None:
        """Build or read the profiles when the market clock's trading day is new to the step."""
        day = mh.current_trading_day(self.ctx.clock.now())
        if day == self.day:
            return
        store = self.ctx.store
        try:
            names, sessions = await store.call(_plan, day)
            if names is None:
                # In the worker process, which reads the file itself: 2 s of numpy at 8,000
                # names, never on the store's thread (its quote writes wait) nor the loop's.
                rows = await self.offload.heavy(build_volume_profiles, str(store.path), sessions)
                names = await store.call(Store.put_volume_profiles, day, len(sessions), rows)
        except (StoreError, sqlite3.Error) as exc:
            log.info("volume profiles not built: %s", exc)
            report.fail(
                SOURCE,
                day.isoformat(),
                "could not be built from the stored history "
                f"({exc}); RVol uses the intraday curve until the next cycle",
                side=True,
            )
            return
        self.day = day
        self.names = names
        log.info("volume profiles for %s: %d names", day, names)
