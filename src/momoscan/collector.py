"""The collector's side of a database: it publishes its state for the viewers, answers their
requests, and paces its cycles (see role.py for the roles).

What a screen or the headless loop does with a cycle's report stays theirs; this module keeps
what every collector does whoever shows it: the state row, the requests, "refresh now".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import anyio

from .models import Progress
from .push import Pusher
from .role import CollectorLock, CollectorState, this_process, write_state
from .store import Store

if TYPE_CHECKING:
    from .engine.context import RefreshReport
    from .engine.stream import Tick
    from .runtime import Runtime

log = logging.getLogger(__name__)

#: Seconds between two looks at the viewers' requests.
POLL_EVERY = 0.25
#: Seconds between two publications of the state when nothing changed (the heartbeat).
HEARTBEAT_EVERY = 1.0
#: A change is published at most this often (seconds): a sweep of 8,000 names reports some
#: 70 batches in a second or two; viewers re-read at most about this often anyway.
PUBLISH_EVERY = 0.25

#: What a request to the collector may ask.
REQUEST_KINDS = ("refresh", "watch", "unwatch")


class Collector:
    """One database's collector: holds `lock` for as long as it runs.

    Args:
        rt: the run (engine, store, clock) this process built as collector.
        lock: the role's lock, held; released by `close()`.
        command: what runs it, for the viewers' status bar ("momoscan", "momoscan collect").
        wall: the wall clock (Unix seconds).
        notify: told of each request it served, in words (the TUI notifies; may be None).
        session: what defines the demo's session (runtime.demo_session; "" live).
    """

    def __init__(
        self,
        rt: Runtime,
        lock: CollectorLock,
        *,
        command: str,
        wall: Callable[[], float] = time.time,
        notify: Callable[[str], None] | None = None,
        session: str = "",
    ):
        self.rt = rt
        self.lock = lock
        self.wall = wall
        self.notify = notify
        pid, host = this_process()
        faults = rt.faults.describe() if rt.faults is not None else ""
        self.state = CollectorState(
            pid=pid,
            host=host,
            command=command,
            since=wall(),
            mode=rt.mode.name,
            session=session,
            universe=rt.engine.universe.describe(),
            faults=faults,
            clock_speed=float(getattr(rt.clock, "speed", 0.0 if rt.mode.demo else 1.0)),
        )
        self._dirty = True
        self._published = 0.0
        self._refresh_now = anyio.Event()
        self._universe = 0
        rt.engine.stream_step.listen(self.on_ticks)
        #: Pushes the alerts ([alerts] push; None without channels): the collector's, never a
        #: viewer's, so one alert is one message. A cycle's go from `refresh`, the stream's here.
        self.pusher = Pusher.from_settings(rt.settings, demo=rt.mode.demo)
        if self.pusher is not None:
            rt.engine.alert_step.listen(self.pusher.add)
        rt.engine.halt_step.listen(self.changed)  # a poll of the halts stored something
        rt.engine.fundamentals_step.listen(self.changed)  # floats fetched beside the cycles
        rt.engine.filings_step.listen(self.changed)  # ... or new SEC filings

    # -- what changes the state --------------------------------------------------------------

    def changed(self) -> None:
        """Something a screen shows was stored: viewers read the tables again."""
        self.state.seq += 1
        self._dirty = True

    def on_progress(self, progress: Progress) -> None:
        state = self.state
        state.refreshing = progress.step != "done"
        state.progress = [
            progress.step,
            progress.done,
            progress.total,
            progress.credits_used,
            progress.errors,
            progress.message,
        ]
        if progress.step in ("universe", "quotes", "options", "done"):
            self.changed()
        self._dirty = True

    def on_ticks(self, ticks: Sequence[Tick]) -> None:
        if ticks:
            self.changed()

    async def refresh(
        self,
        progress: Callable[[Progress], None] | None = None,
        **kwargs: Any,
    ) -> RefreshReport:
        """One cycle of the engine (`Engine.refresh`'s keywords), published as it goes."""

        def both(p: Progress) -> None:
            self.on_progress(p)
            if progress is not None:
                progress(p)

        self._refresh_now = anyio.Event()
        report = await self.rt.engine.refresh(both, **kwargs)
        if self.pusher is not None:
            self.pusher.add([*report.scanner, *report.alerts])  # never waits: a thread sends
        state = self.state
        state.cycles += 1
        state.refreshing = False
        state.progress = None
        state.last_cycle_at = report.finished or self.wall()
        state.last_status = report.status
        state.last_summary = report.summary()
        state.error = (report.summary() or "the refresh failed") if report.failed else ""
        self._universe = report.symbols or self._universe
        self.changed()
        try:
            await self.publish()
        except Exception as exc:
            # The database cannot be written (the report says so in its words); the state
            # goes out with the next heartbeat that can write it.
            log.info("the collector's state could not be published: %s", exc)
        return report

    def refresh_now(self) -> None:
        """Start the next cycle now (the wait in `wait` ends)."""
        self._refresh_now.set()

    async def wait(self, seconds: float) -> bool:
        """Wait `seconds` for the next cycle, or less when a refresh is asked for: True then."""
        with anyio.move_on_after(seconds):
            await self._refresh_now.wait()
            return True
        return False

    # -- publishing and requests -------------------------------------------------------------

    def current(self, universe: int | None = None) -> CollectorState:
        """The state as of now, unpublished: what this process's own window shows, as a
        viewer's shows the published one. `universe`: the names the stream's line counts
        (default: the last cycle's)."""
        self._fill(universe)
        return self.state

    def _fill(self, universe: int | None = None) -> None:
        rt = self.rt
        engine = rt.engine
        state = self.state
        now = self.wall()
        state.heartbeat = now
        state.clock_wall = now
        state.clock_market = rt.clock.now().timestamp()
        state.plan_limit = engine.budget.limit
        state.credits_used = engine.budget.used()
        state.credit_note = engine.credit_note
        stream = engine.stream_step.status()
        state.stream = stream.line(self._universe if universe is None else universe)
        state.stream_state = stream.state
        state.streaming = sorted(engine.stream_step.live())
        state.coverage = engine.scheduler.coverage().line()

    async def publish(self) -> None:
        """Write the state now (through the store's writer)."""
        self._fill()
        self._dirty = False
        self._published = self.wall()
        await self.rt.engine.store.call(write_state, self.state)

    async def run(self) -> None:
        """Publish the state and serve the viewers' requests until cancelled."""
        failing = False
        while True:
            try:
                now = self.wall()
                if (self._dirty and now - self._published >= PUBLISH_EVERY) or (
                    now - self._published >= HEARTBEAT_EVERY
                ):
                    await self.publish()
                for request in await self.rt.engine.store.call(Store.take_requests, at=now):
                    await self._serve(*request)
                failing = False
            except Exception as exc:
                # The database cannot be written now (a full disk, a lock held long): the
                # cycle says so in its own words; the state is published when it can be.
                if not failing:
                    log.info("the collector's state could not be published: %s", exc)
                failing = True
            await anyio.sleep(POLL_EVERY)

    async def _serve(self, request_id: int, kind: str, arg: str) -> None:
        engine = self.rt.engine
        ok, answer = True, ""
        try:
            if kind == "refresh":
                self.refresh_now()
                answer = "refreshing"
            elif kind == "watch":
                symbol, changed = await engine.watch(arg)
                answer = f"{symbol} {'added' if changed else 'already'}"
            elif kind == "unwatch":
                symbol, changed = await engine.unwatch(arg)
                answer = f"{symbol} {'removed' if changed else 'absent'}"
            else:
                ok, answer = False, f"unknown request {kind!r}"
        except ValueError as exc:
            ok, answer = False, str(exc)
        await engine.store.call(Store.answer_request, request_id, ok, answer, at=self.wall())
        if kind in ("watch", "unwatch") and ok:
            self.changed()
        if self.notify is not None and kind == "refresh":
            self.notify("A viewer asked for a refresh: refreshing now.")

    async def close(self) -> None:
        """Say the collector stopped (viewers take over at once) and let the lock go."""
        with anyio.CancelScope(shield=True):
            try:
                self._fill()
                self.state.stopped_at = self.wall()
                await self.rt.engine.store.call(write_state, self.state)
            except Exception as exc:
                log.info("the collector's last state could not be written: %s", exc)
            self.lock.release()
            if self.pusher is not None:
                await self.pusher.aclose()  # what waits goes now (a --once exits next)
