"""The single SQLite writer: one thread owning one connection, fed from the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ..store import Store

T = TypeVar("T")


class StoreThread:
    """One thread owning one `Store` connection; `call` runs a function on it.

    The engine writes through one of these (the single writer); the TUI reads through its own.
    """

    def __init__(self, path: Path):
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="momoscan-store")
        self._store: Store | None = None

    def _open(self) -> None:
        self._store = Store(self.path)

    async def start(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._open)

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn(store, *args, **kwargs)` on the store thread."""

        def run() -> T:
            assert self._store is not None, "StoreThread.start() was not awaited"
            return fn(self._store, *args, **kwargs)

        return await asyncio.get_running_loop().run_in_executor(self._executor, run)

    async def close(self) -> None:
        def shut() -> None:
            if self._store is not None:
                self._store.close()
                self._store = None

        await asyncio.get_running_loop().run_in_executor(self._executor, shut)
        self._executor.shutdown(wait=True)
