"""Decides, at start, whether this process collects for its database or views it, and hands
over when the collector goes (the roles: role.py).

Every way of running momoscan (the TUI, a serve tab, `--headless`, `--once`, `collect`) comes
through `attach`: it gives a `Collector` (built on a fresh runtime) to `collect`, or a `Viewer`
to `view` while another process holds the role.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import anyio

from .collector import Collector
from .config import Settings
from .role import CollectorLock, CollectorState, continued_start, read_state
from .run_options import (
    Mode,
    RunOptions,
    check_db_mode,
    choose_mode,
    db_path_for,
    demo_session,
)
from .store import Store
from .viewer import Viewer

if TYPE_CHECKING:
    from .engine import Engine

R = TypeVar("R")
log = logging.getLogger(__name__)

#: What `view` returns when this process now holds the collector's lock (a takeover).
TAKE_OVER = None
#: A demo collector goes on from the clock of the one before it when that one published
#: within this many wall seconds: a takeover, or a restart soon after it stopped (a TUI quit,
#: then a --once). Later, the demo's session starts again at its configured time.
RESUME_GAP = 900.0


async def _keep_streaming(engine: Engine, names: list[str]) -> None:
    """Stream what the collector before this one streamed, before the first cycle picks;
    a failure here costs only that head start (the cycle chooses again)."""
    try:
        await engine.stream_step.choose(names)
    except Exception as exc:
        log.info("the previous collector's streamed names could not be taken over: %s", exc)


def _last_state(db_path: Path) -> CollectorState | None:
    with Store(db_path) as store:
        return read_state(store)


@dataclass
class Place:
    """Where a run reads and writes: its mode, its database, the database's collector lock."""

    mode: Mode
    db_path: Path
    lock: CollectorLock


async def locate(settings: Settings, options: RunOptions) -> Place:
    """The run's mode and database (checked: demo and live never share a file).

    Raises:
        StoreError: the database cannot be opened, or holds the other mode's data.
    """
    mode = choose_mode(settings, options)
    db_path = db_path_for(settings, options, mode)
    await anyio.to_thread.run_sync(check_db_mode, db_path, mode)
    return Place(mode, db_path, CollectorLock(db_path))


async def attach(
    settings: Settings,
    options: RunOptions,
    *,
    command: str,
    collect: Callable[[Collector], Awaitable[R]],
    view: Callable[[Viewer], Awaitable[R | None]],
    wall: Callable[[], float] = time.time,
) -> R:
    """Run as the database's collector (`collect`'s result), or as a viewer while another
    process collects: `view` returns its result, or None once this process holds the lock
    (it then collects, going on from the demo clock of the collector it follows).

    Raises:
        StoreError, ConfigError: as `open_runtime` does.
    """
    place = await locate(settings, options)
    followed = None
    while True:
        if place.lock.try_acquire():
            break
        viewer = Viewer(place.db_path, place.lock, wall=wall)
        try:
            await viewer.start()
            result = await view(viewer)
        finally:
            await viewer.close()
        if result is not None:
            place.lock.release()
            return result
        followed = viewer.state
    took_over = followed is not None
    if not took_over and place.mode.demo:
        # A demo collector that stopped a moment ago (a TUI quit, then a --once): its
        # session goes on rather than starting again at 10:00 and dropping what it stored,
        # unless this run asks for another session (another date, start, seed or size).
        followed = await anyio.to_thread.run_sync(_last_state, place.db_path)
    session = demo_session(settings, options) if place.mode.demo else ""
    if took_over and followed is not None:
        session = followed.session  # a takeover always goes on: a viewer deletes nothing
    resume = (
        continued_start(followed, wall(), RESUME_GAP, session) if followed is not None else None
    )
    if resume is not None and options.demo_start is None:
        options = dataclasses.replace(options, demo_resume=resume)
    # The runtime's world (clients, sources, the engine) only for a collector.
    from .runtime import open_runtime

    try:
        async with open_runtime(settings, options) as rt:
            collector = Collector(rt, place.lock, command=command, wall=wall, session=session)
            try:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(collector.run)
                    # The halts feed at its own pace, beside the cycles (a collector's alone).
                    tg.start_soon(rt.engine.run_halts)
                    tg.start_soon(rt.engine.run_filings)
                    tg.start_soon(rt.engine.run_fundamentals)
                    if followed is not None and followed.streaming:
                        tg.start_soon(_keep_streaming, rt.engine, followed.streaming)
                    outcome = await collect(collector)
                    tg.cancel_scope.cancel()
            finally:
                await collector.close()
        return outcome
    finally:
        place.lock.release()
