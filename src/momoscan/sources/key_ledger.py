"""One API key's credit ledger, shared by every momoscan process on the machine.

Each process's `CreditBudget` keeps its own sliding-window ledger; two processes on one Twelve
Data key (two databases, or a collector beside a cron job) would each believe they own the
whole plan and together overspend it. A `KeyLedger` is the key's ledger on disk: one small text
file per key in the user's state directory, `<state>/credits/<first 16 hex of sha256(key)>`
(the key itself never appears in a file name, a file, a log line or an error), holding one line
per grant: `<wall-clock Unix seconds> <credits> <pid>`. A budget given one reserves each grant
here, under an OS file lock (`filelock`, released by the OS when its holder dies), so the
credits of every process on the key in the last window count before a grant is made.

Every write rewrites the file (a temporary file, then `os.replace`), pruned of entries older
than `keep` seconds, so a reader without the lock sees one whole version or the other. A file
that cannot be read, or lines that do not parse, are logged and skipped: the ledger never fails
a cycle. If the lock cannot be had within `lock_wait` seconds (a holder hung) or the directory
cannot be written, the grant is still made from what could be read, with a warning: a
collector that stops spending for good would be worse than the rare 429 that follows.

Stamps are wall-clock seconds (processes share no monotonic clock); a stamp in the future
(written before the wall clock went back) counts as now, and is rewritten as now on the next
write, so it leaves the window one window later rather than an hour later.

Cost, on the 2-core development machine (`python bench/collectors.py --micro`): with 60
entries (1.4 KB) a reserve (lock, read, rewrite, unlock) takes 0.5 ms (p99 under 2 ms) and a
read 0.1 ms. A budget reserves once a grant and reads once an answer, so these are direct calls
on the event loop, not a thread's round trip.

Live runs only: a demo's simulated market has a plan of its own, so a demo keeps no ledger.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import platformdirs
from filelock import FileLock, Timeout

from ..config import APP_NAME

log = logging.getLogger(__name__)

#: Seconds a process waits for another's hold on the lock (a hold lasts well under 1 ms).
LOCK_WAIT = 2.0
#: How often a waiting process tries the lock again, in seconds: short, as a wait is short.
POLL = 0.001
#: Seconds an entry is kept in the file: longer than any budget's window (60 s + margin).
KEEP = 120.0
#: Seconds between a restored grant's stamp (the database's) and the same grant's stamp here
#: (the ledger's, taken a moment earlier) within which they are taken to be one grant.
SAME_GRANT = 1.0


def key_id(api_key: str) -> str:
    """The key's name on disk: the first 16 hex digits of its SHA-256, never the key."""
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()[:16]


def default_dir() -> Path:
    """`<user state directory>/credits` (platformdirs; `~/.local/state/momoscan/credits` on
    Linux, honouring XDG_STATE_HOME)."""
    return platformdirs.user_state_path(APP_NAME) / "credits"


@dataclass(frozen=True)
class Entry:
    at: float  # wall-clock Unix seconds
    credits: int
    pid: int


class KeyLedger:
    """The credits spent on one API key by every process on the machine, on disk.

    Args:
        path: the ledger's file (`for_key` names it from the key); its lock is beside it,
            `<path>.lock`. The directory is created (mode 0700) if missing.
        lock_wait: seconds to wait for the lock before going on without it (with a warning).
        keep: seconds an entry is kept; at least the longest window a caller asks about.
    """

    def __init__(self, path: Path, *, lock_wait: float = LOCK_WAIT, keep: float = KEEP):
        self.path = path
        self.keep = keep
        self._lock_wait = lock_wait
        self._lock = FileLock(
            str(path.with_name(path.name + ".lock")), timeout=lock_wait, thread_local=False
        )
        self._pid = os.getpid()
        self._warned: set[str] = set()
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            self._warn("mkdir", f"cannot create {path.parent} ({exc.strerror or exc})")

    @classmethod
    def for_key(cls, api_key: str, directory: Path | None = None) -> KeyLedger:
        """The ledger of `api_key` in `directory` (default: `default_dir()`)."""
        return cls((directory if directory is not None else default_dir()) / key_id(api_key))

    def _warn(self, kind: str, message: str) -> None:
        """Log a problem once per kind: a corrupt or locked file is not news every cycle."""
        if kind not in self._warned:
            self._warned.add(kind)
            log.warning("Shared credit ledger: %s; %s", message, _CONSEQUENCE)

    # -- the file ----------------------------------------------------------------------------

    def _read(self) -> list[Entry]:
        try:
            text = self.path.read_text(encoding="ascii", errors="replace")
        except FileNotFoundError:
            return []
        except OSError as exc:
            self._warn("read", f"cannot read {self.path} ({exc.strerror or exc})")
            return []
        entries: list[Entry] = []
        bad = 0
        for line in text.splitlines():
            fields = line.split()
            try:
                at, credits, pid = float(fields[0]), int(fields[1]), int(fields[2])
            except (IndexError, ValueError):
                bad += 1
                continue
            if credits > 0 and math.isfinite(at):
                entries.append(Entry(at, credits, pid))
            else:
                bad += 1
        if bad:
            self._warn("corrupt", f"skipped {bad} unreadable line(s) in {self.path}")
        return entries

    def _write(self, entries: Iterable[Entry]) -> None:
        body = "".join(f"{e.at:.3f} {e.credits} {e.pid}\n" for e in entries)
        try:
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tmp-", suffix=".ledger")
            try:
                with os.fdopen(fd, "w", encoding="ascii") as out:
                    out.write(body)
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            self._warn("write", f"cannot write {self.path} ({exc.strerror or exc})")

    def _current(self, now: float, window: float = 0.0) -> list[Entry]:
        """The file's entries kept at `now`, a future stamp counted as now, oldest first."""
        horizon = now - max(self.keep, window)
        return sorted(
            (Entry(min(e.at, now), e.credits, e.pid) for e in self._read() if e.at > horizon),
            key=lambda e: e.at,
        )

    def _acquire(self) -> bool:
        try:
            self._lock.acquire(timeout=self._lock_wait, poll_interval=POLL)
        except Timeout:
            self._warn("lock", f"the lock beside {self.path} was held over {self._lock_wait:g} s")
            return False
        except OSError as exc:
            self._warn("lock", f"cannot lock {self.path} ({exc.strerror or exc})")
            return False
        return True

    # -- the API -----------------------------------------------------------------------------

    def spent(self, now: float, window: float) -> list[tuple[float, int]]:
        """(wall-clock seconds, credits) of every process's grants within `window` seconds
        before `now`, oldest first; a stamp in the future counts as `now`. Read without the
        lock (the file is replaced whole, never rewritten in place)."""
        return [(e.at, e.credits) for e in self._current(now, window) if e.at > now - window]

    def used(self, now: float, window: float) -> int:
        """Credits every process on the key was granted in the `window` seconds before `now`."""
        return sum(credits for _, credits in self.spent(now, window))

    def reserve(self, want: int, limit: int, window: float, now: float, *, minimum: int = 1) -> int:
        """Grant up to `want` credits at `now` (wall-clock seconds) if at least `minimum` fit:
        what every process was granted in the `window` seconds before `now`, plus the grant,
        stays within `limit`. The grant is written before the lock is released. Returns it
        (0: not `minimum` credits free; `wait` says how long until they are)."""
        if want < 1:
            return 0
        locked = self._acquire()
        try:
            entries = self._current(now, window)
            used = sum(e.credits for e in entries if e.at > now - window)
            grant = min(want, limit - used)
            if grant < max(1, min(minimum, want)):
                return 0
            entries.append(Entry(now, grant, self._pid))
            self._write(entries)
            return grant
        finally:
            if locked:
                self._lock.release()

    def wait(self, credits: int, limit: int, window: float, now: float) -> float:
        """Seconds from `now` until `credits` more fit in the window, if no one else spends
        meanwhile (a hint for sleeping; `reserve` decides)."""
        spent = self.spent(now, window)
        excess = sum(c for _, c in spent) + credits - limit
        if excess <= 0:
            return 0.0
        freed = 0
        for at, amount in spent:
            freed += amount
            if freed >= excess:
                return at + window - now
        return window  # more than the limit: never fits

    def record(self, credits: int, at: float, *, now: float | None = None) -> None:
        """Count `credits` spent at `at` (wall-clock seconds; later than `now`, by default the
        wall clock, counts as now) outside `reserve`: what the server says was spent."""
        self.merge([(at, credits)], now=now, tolerance=None)

    def merge(
        self,
        spent: Iterable[tuple[float, int]],
        *,
        now: float | None = None,
        tolerance: float | None = SAME_GRANT,
    ) -> int:
        """Add grants made elsewhere (`(wall-clock seconds, credits)`, e.g. restored from a
        database), each unless the file already holds the same grant: an entry of the same
        credits within `tolerance` seconds, each entry matching at most one grant (None: add
        them all). Returns the credits added."""
        now = time.time() if now is None else now
        added = [(min(at, now), c) for at, c in spent if c > 0 and at > now - self.keep]
        if not added:
            return 0
        locked = self._acquire()
        try:
            entries = self._current(now)
            unmatched = list(entries)
            fresh: list[Entry] = []
            for at, credits in sorted(added):
                if tolerance is not None:
                    same = [
                        e for e in unmatched if e.credits == credits and abs(e.at - at) <= tolerance
                    ]
                    if same:
                        unmatched.remove(min(same, key=lambda e: abs(e.at - at)))
                        continue
                fresh.append(Entry(at, credits, self._pid))
            if fresh:
                self._write(sorted(entries + fresh, key=lambda e: e.at))
            return sum(e.credits for e in fresh)
        finally:
            if locked:
                self._lock.release()


_CONSEQUENCE = (
    "credits are counted from what could be read, so processes sharing this API key may "
    "overspend it together until this is fixed"
)
