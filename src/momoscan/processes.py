"""Worker processes: for CPU-heavy work that must not share the event loop's GIL.

Spawned, never forked (the app has threads), and with the real stderr handed over: Textual
swaps sys.stderr for a capture object without a file descriptor, which multiprocessing's
spawn cannot pass on.

Ctrl-C in a terminal sends SIGINT to every process of the foreground group, workers included;
a worker would die of it with a traceback. Workers never take SIGINT: they are started with it
blocked (so even one still starting up cannot print a traceback) and ignore it once running;
the parent stops them as it shuts down, and they exit when it is gone.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import anyio


def _watch_parent(parent: int) -> None:
    """Exit when the parent process is gone (killed with -9, say): a worker blocked on its
    task queue would otherwise wait for it forever."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


#: How much lower a worker's CPU priority is than the app's (Unix `nice`). On two cores the
#: app, the parse worker and the simulated market can all want a core at once (21 OCC days
#: parsed while the market writes them); the scheduler then lets the app's process, the one
#: that draws the screen and reads the keys, run first. The workers' work is not lost, only
#: done in the time the app leaves.
WORKER_NICENESS = 10


def _child_start(
    parent: int, initializer: Callable[..., None] | None, initargs: tuple[Any, ...]
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(os, "nice"):  # not on Windows
        with contextlib.suppress(OSError):
            os.nice(WORKER_NICENESS)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    if initializer is not None:
        initializer(*initargs)


@contextlib.contextmanager
def _bare_main() -> Iterator[None]:
    """Spawn workers that do not import the parent's `__main__`.

    multiprocessing's spawn re-runs the parent's main module in the child (by path, or by name
    under `python -m`), so that functions defined there resolve. For the `momoscan` console
    script that means importing the whole CLI (store, Rich, sqlite-utils) into a worker that
    only parses a file or runs the market. Every function momoscan sends to a worker lives in
    an importable module, so the main module is hidden while a worker starts."""
    main = sys.modules["__main__"]
    saved: dict[str, Any] = {
        name: main.__dict__[name] for name in ("__file__", "__spec__") if name in main.__dict__
    }
    main.__dict__.pop("__file__", None)
    main.__dict__["__spec__"] = None
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


def spawn_pool(
    initializer: Callable[..., None] | None = None, initargs: tuple[Any, ...] = ()
) -> ProcessPoolExecutor:
    """A one-worker process pool, started now (so that it is warm by the first request)."""
    saved = sys.stderr
    sys.stderr = sys.__stderr__
    # The spawned process inherits this thread's signal mask across exec.
    masks = hasattr(signal, "pthread_sigmask")  # not on Windows, which has no SIGINT groups
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if masks else set()
    try:
        pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_child_start,
            initargs=(os.getpid(), initializer, initargs),
        )
        with _bare_main():
            pool.submit(int)  # start the worker process now
    finally:
        if masks:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        sys.stderr = saved
    return pool


def _import(module: str) -> None:
    importlib.import_module(module)


def spawn_importing(module: str) -> ProcessPoolExecutor:
    """`spawn_pool` whose worker imports `module` (by name: this process need not have it)
    as it starts, before it is told what to do. The simulated market's process is started
    so, first thing in a demo run: its imports (NumPy, the market; about 0.3 s) then overlap
    the app's own start-up, and the market's arguments follow as its first task."""
    return spawn_pool(_import, (module,))


async def shutdown_pool(pool: ProcessPoolExecutor) -> None:
    """Stop the pool's process without waiting on a long task: join briefly, then terminate."""
    processes = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)

    def reap() -> None:
        for process in processes:
            process.join(timeout=3)
            if process.is_alive():
                process.terminate()
                process.join(timeout=1)

    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(reap)


def loaded_modules() -> list[str]:
    """The modules a worker process has imported (run in the worker: tests check that a
    worker imports only what its job needs)."""
    return sorted(sys.modules)
