"""Where the sources parse what they download.

Small payloads parse in a worker thread. Big ones (SPX's 13 MB chain, OCC's 5 MB day files)
parse in a worker process: in a thread, their hundreds of milliseconds of Python would hold the
GIL in slices long enough to make the event loop, and so the keyboard, stutter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

import anyio

from ..processes import shutdown_pool, spawn_pool

T = TypeVar("T")

#: Payloads this big or bigger go to the worker process.
PROCESS_THRESHOLD = 1_000_000


class Offloader:
    """Runs `fn(payload, *args)` off the event loop: in a process for big payloads.

    Args:
        processes: False keeps everything in threads (tests; platforms without processes).
    """

    def __init__(self, *, processes: bool = True, threshold: int = PROCESS_THRESHOLD):
        self._use_processes = processes
        self._threshold = threshold
        self._pool: ProcessPoolExecutor | None = None

    async def run(self, fn: Callable[..., T], payload: bytes, *args: Any) -> T:
        """Parse `payload`: in the process if it is big, else in a thread."""
        if len(payload) >= self._threshold:
            return await self.heavy(fn, payload, *args)
        return await anyio.to_thread.run_sync(fn, payload, *args)

    async def heavy(self, fn: Callable[..., T], *args: Any) -> T:
        """Run CPU-heavy `fn(*args)` (picklable) in the worker process."""
        if not self._use_processes:
            return await anyio.to_thread.run_sync(fn, *args)
        if self._pool is None:
            self._pool = spawn_pool()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, fn, *args)

    async def aclose(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await shutdown_pool(pool)


#: For callers given no offloader: threads only.
THREADS = Offloader(processes=False)
