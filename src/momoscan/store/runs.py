"""Refresh runs: their rows, the process each belongs to, and closing those a process that is
gone left running."""

from __future__ import annotations

import os
import secrets
import socket
import sqlite3
import time
from dataclasses import dataclass

from .connection import StoreBase


@dataclass(frozen=True, slots=True)
class RunSummary:
    id: int
    kind: str
    mode: str
    started_at: float
    finished_at: float | None
    status: str
    symbols: int
    quotes: int
    credits_used: int
    errors: int
    message: str


#: A run from before owners were recorded (schema 6) is closed as abandoned once this old.
ABANDONED_UNOWNED_AFTER = 86400.0

_TOKENS: dict[int, str] = {}


@dataclass(frozen=True, slots=True)
class RunOwner:
    """The process a refresh run belongs to: host name, pid, and a random token drawn once
    per process (a pid alone is reused, by a restarted container's pid 1 for one)."""

    host: str
    pid: int
    token: str

    @classmethod
    def this_process(cls) -> RunOwner:
        pid = os.getpid()
        # Keyed by pid: a forked child draws its own.
        token = _TOKENS.setdefault(pid, secrets.token_hex(8))
        return cls(socket.gethostname(), pid, token)


def _process_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (another user's counts)."""
    if pid <= 0:
        return True  # not a pid momoscan wrote: say alive, leave the run alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # PermissionError: it exists, under another user
    return True


class RunsMixin(StoreBase):
    def start_run(
        self,
        kind: str,
        mode: str,
        *,
        symbols: int = 0,
        at: float | None = None,
        owner: RunOwner | None = None,
    ) -> int:
        """A new run, `running`, owned by `owner` (this process by default); the runs that
        processes gone since left `running` are closed as `abandoned` in the same transaction
        (see `close_abandoned_runs`). Returns the run's id.

        Raises:
            sqlite3.Error: the database cannot be written (disk full, locked).
        """
        stamp = time.time() if at is None else at
        me = owner or RunOwner.this_process()
        with self.transaction() as conn:
            self._close_abandoned(conn, stamp, me)
            cursor = conn.execute(
                "INSERT INTO refresh_runs (kind, mode, started_at, status, symbols, quotes, "
                "credits_used, errors, message, host, pid, token) "
                "VALUES (?, ?, ?, 'running', ?, 0, 0, 0, '', ?, ?, ?)",
                (kind, mode, stamp, symbols, me.host, me.pid, me.token),
            )
            return int(cursor.lastrowid or 0)

    def close_abandoned_runs(self, *, at: float, owner: RunOwner | None = None) -> list[int]:
        """Close as `abandoned` the runs left `running` by a process that is gone; returns
        their ids. `at` (Unix seconds) becomes their `finished_at`.

        Several processes may share one database, so a run is closed only when its owner is
        known to be gone: on this host, no process has its pid any more, or the pid is this
        process's own but the token is not (a pid reused, as a container's pid 1 is). Runs of
        other hosts are left alone (nothing here can tell whether they live); runs from
        before owners were recorded are closed once a day old (no cycle lasts a day).
        """
        with self.transaction() as conn:
            return self._close_abandoned(conn, at, owner or RunOwner.this_process())

    def _close_abandoned(self, conn: sqlite3.Connection, at: float, me: RunOwner) -> list[int]:
        gone: list[tuple[int, str]] = []
        for run_id, host, pid, token, started in conn.execute(
            "SELECT id, host, pid, token, started_at FROM refresh_runs WHERE status = 'running'"
        ).fetchall():
            if host is None:
                if started < at - ABANDONED_UNOWNED_AFTER:
                    gone.append((run_id, "its process is unknown and it started a day ago"))
                continue
            if host != me.host or pid is None:
                continue
            if pid == me.pid:
                if token == me.token:
                    continue  # this process's own run, still going
            elif _process_alive(int(pid)):
                continue
            gone.append((run_id, f"its process (pid {pid} on {host}) ended before it finished"))
        conn.executemany(
            "UPDATE refresh_runs SET status = 'abandoned', finished_at = ?, message = ? "
            "WHERE id = ? AND status = 'running'",
            [(at, f"abandoned: {why}", run_id) for run_id, why in gone],
        )
        return [run_id for run_id, _ in gone]

    def finish_run(
        self,
        run_id: int,
        status: str,
        message: str = "",
        *,
        symbols: int | None = None,
        at: float | None = None,
    ) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE refresh_runs SET status = ?, message = ?, finished_at = ?, "
                "symbols = COALESCE(?, symbols) WHERE id = ?",
                (status, message, time.time() if at is None else at, symbols, run_id),
            )
