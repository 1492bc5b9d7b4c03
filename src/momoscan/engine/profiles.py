"""The volume profiles step: once a trading day, each name's usual intraday volume is built from
the stored history (store/profiles.py) for RVol at the time of day (rvol.py).

Run by the cycle before the quotes, from 04:00 ET of each trading day (the market clock's), on
the store's writer thread: the quote writes of that thread read the profiles from its memory.
A database that already holds the day's profiles (a restart, a `--once` run) is only read. A
build that fails costs nothing but the profiles: RVol is measured against the curve until the
next cycle builds them, and the cycle says so in one line.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import date

from .. import market_hours as mh
from ..store import Store, StoreError
from .context import RefreshReport, StepContext

log = logging.getLogger(__name__)

SOURCE = "volume profiles"


def _ensure(store: Store, day: date) -> int:
    """`day`'s profiles in `store`'s memory: read when the table holds them, else built.
    Returns how many names have one."""
    if store.volume_profiles_day() == day.isoformat():
        profiles = store.rvol_cache.profiles
        return 0 if profiles is None else len(profiles)
    return store.refresh_volume_profiles(day)


class ProfileStep:
    """Builds the day's volume profiles once a trading day (see the module's docstring)."""

    def __init__(self, ctx: StepContext):
        self.ctx = ctx
        self.day: date | None = None
        #: Names with a profile after the last build (the rest are measured by the curve).
        self.names = 0

    async def run(self, report: RefreshReport) -> None:
        """Build or read the profiles when the market clock's trading day is new to the step."""
        day = mh.current_trading_day(self.ctx.clock.now())
        if day == self.day:
            return
        try:
            self.names = await self.ctx.store.call(_ensure, day)
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
        log.info("volume profiles for %s: %d names", day, self.names)
