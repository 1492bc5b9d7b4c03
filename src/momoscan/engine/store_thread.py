"""The single SQLite writer: one thread owning one connection, fed from the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ..store import Store, StoreError

T = TypeVar("T")

log = logging.getLogger(__name__)


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file at `path`, None when there is none."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


class StoreThread:
    """One thread owning one `Store` connection; `call` runs a function on it.

    The engine writes through one of these (the single writer); the TUI reads through its own.
    """

    def __init__(self, path: Path):
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="momoscan-store")
        self._store: Store | None = None
        self._identity: tuple[int, int] | None = None
        #: Why the connection is closed after a failed `reopen` ("" while it is open).
        self._closed_why = ""

    def _open(self) -> None:
        self._store = Store(self.path)
        self._identity = _identity(self.path)
        self._closed_why = ""

    async def start(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._open)

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn(store, *args, **kwargs)` on the store thread.

        Raises:
            StoreError: the connection is closed after a `reopen` that failed.
        """

        def run() -> T:
            if self._store is None:
                if self._closed_why:
                    raise StoreError(self._closed_why)
                raise AssertionError("StoreThread.start() was not awaited")
            return fn(self._store, *args, **kwargs)

        return await asyncio.get_running_loop().run_in_executor(self._executor, run)

    async def reopen(self, *, force: bool = False) -> bool:
        """Open the database afresh when its file was deleted or replaced since it was opened
        (a cleaner emptied the directory: SQLite would go on writing to the deleted file,
        and every reader would see an empty new one), when the last `reopen` failed, or
        when `force` (after a write failed: a connection a full disk left inside a
        transaction starts clean). A deleted file is created again, empty, as a first start
        creates it. Returns True when it opened the database again.

        Raises:
            StoreError: the database cannot be opened now (the sentence says why); the
                connection stays closed until a later `reopen` succeeds.
        """

        def swap() -> bool:
            current = self._identity is not None and _identity(self.path) == self._identity
            if self._store is not None and current and not force:
                return False
            if self._store is not None:
                old, self._store = self._store, None
                with contextlib.suppress(sqlite3.Error):
                    old.close()
            try:
                self._open()
            except StoreError as exc:
                self._closed_why = str(exc)
                raise
            log.info("reopened the database %s%s", self.path, "" if current else " (replaced)")
            return True

        return await asyncio.get_running_loop().run_in_executor(self._executor, swap)

    async def close(self) -> None:
        def shut() -> None:
            if self._store is not None:
                self._store.close()
                self._store = None

        await asyncio.get_running_loop().run_in_executor(self._executor, shut)
        self._executor.shutdown(wait=True)
