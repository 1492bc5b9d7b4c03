"""What a run is, decided before anything is built: the command line's options, the mode
(demo or live), the database, and what defines a demo's session. Light on purpose: a viewer
(a second window, a serve tab, a --once beside a collector) imports this and not the runtime
that builds clients, sources and the engine (runtime.py)."""

from __future__ import annotations

import time as wallclock
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .config import Settings, default_db_path
from .store import Store, StoreError


@dataclass
class RunOptions:
    """What the command line adds to the settings."""

    demo: bool = False
    db: str | None = None
    demo_size: int | None = None
    demo_seed: int | None = None
    demo_speed: float | None = None
    demo_faults: str | None = None  # a FaultPlan spec; None: [demo] faults
    demo_start: datetime | None = None  # tests and snapshots pin the simulated clock
    # A viewer taking over from a demo collector goes on from its clock's time (and keeps
    # what it stored), rather than starting the session again (role.continued_start).
    demo_resume: datetime | None = None
    demo_latency: float = 0.03
    # The simulated market in the app's own process (tests: deterministic, quick to start)
    # rather than in a process of its own (what users run).
    demo_in_process: bool = False
    # Parse big payloads (SPX's chain, OCC's day files) in a worker process (see offload.py).
    offload_processes: bool = True
    wall: Callable[[], float] = wallclock.time  # tests and snapshots pin the wall clock too
    # Stream the hot set (the TUI and the headless loop; a single --once cycle does not).
    stream: bool = False
    # The clock credits are counted on, and how to wait on it: the credit budget's, the
    # simulated plan's meter's, and the client's wait for the next minute after a 429. None:
    # the wall clock. Benches run an hour of a plan's credits in no time on a fake one.
    credit_clock: Callable[[], float] | None = None
    credit_sleep: Callable[[float], Awaitable[None]] | None = None


@dataclass
class Mode:
    name: str  # "demo" or "live"
    reason: str

    @property
    def demo(self) -> bool:
        return self.name == "demo"


def choose_mode(settings: Settings, options: RunOptions) -> Mode:
    if options.demo:
        return Mode("demo", "--demo given")
    if settings.universe.source == "demo":
        return Mode("demo", '[universe] source = "demo"')
    if not settings.has_live_keys:
        return Mode(
            "demo",
            "no Twelve Data API key configured (set TWELVEDATA_API_KEY or [twelvedata] api_key)",
        )
    return Mode("live", "Twelve Data API key configured")


def db_path_for(settings: Settings, options: RunOptions, mode: Mode) -> Path:
    """Demo and live data never share a file, so simulated prices can never pass for real.

    Raises:
        StoreError: a path given (`--db`, `[store] path`) is in a directory that does not
            exist: a typo should not silently start a new, empty database somewhere else.
            (The default path's directory is created.)
    """
    given = (
        ("--db", options.db)
        if options.db
        else ("[store] path", settings.store.path)
        if settings.store.path
        else None
    )
    if given is not None:
        name, value = given
        path = Path(value).expanduser()
        if not path.parent.is_dir():
            raise StoreError(
                f"the directory {path.parent} of {name} {value} does not exist: create it, "
                "or give a path in an existing directory"
            )
        return path
    path = default_db_path()
    return path.with_name("demo.db") if mode.demo else path


def check_db_mode(path: Path, mode: Mode) -> None:
    """Refuse to mix simulated and live data in one database."""
    with Store(path) as store:
        recorded = store.get_meta("mode")
        if recorded is None:
            store.set_meta("mode", mode.name)
        elif recorded != mode.name:
            held = "simulated (demo)" if recorded == "demo" else "live"
            raise StoreError(
                f"{path} holds {held} data and this run is {mode.name}; "
                "point --db (or [store] path) at another file"
            )


def demo_session(settings: Settings, options: RunOptions) -> str:
    """What defines a demo's session: its configured date and start, seed and size (a run
    with other ones starts a session of its own; see role.continued_start)."""
    demo = settings.demo
    seed = options.demo_seed if options.demo_seed is not None else demo.seed
    size = options.demo_size if options.demo_size is not None else demo.size
    return f"{demo.date or 'latest'} {demo.start} seed {seed} size {size}"
