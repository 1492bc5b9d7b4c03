"""The database's failures are the cycle's to own (issue 24, item 7): a full disk, a lock held
too long or a file deleted under a running momoscan fail one cycle with one sentence, keep what
is stored, spend no credits when found at the start, and the next cycle goes on."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from momoscan import market_hours as mh
from momoscan.config import Settings
from momoscan.runtime import RunOptions, open_runtime
from momoscan.store import Store

START = datetime(2026, 11, 20, 11, 30, tzinfo=mh.ET)
FULL = "database or disk is full"


def options(db: Path) -> RunOptions:
    return RunOptions(
        db=str(db),
        demo_start=START,
        demo_latency=0.0,
        demo_in_process=True,
        offload_processes=False,
    )


def small() -> Settings:
    settings = Settings()
    settings.demo.size = 40
    return settings


@contextlib.contextmanager
def disk_full(monkeypatch: pytest.MonkeyPatch, *, only: str = "") -> Iterator[None]:
    """Every write transaction (or only those of Store.`only`) fails at its end as a full disk
    fails a COMMIT, and is rolled back."""
    real = Store.transaction

    @contextlib.contextmanager
    def failing(self: Store) -> Iterator[sqlite3.Connection]:
        with real(self) as conn:
            yield conn
            raise sqlite3.OperationalError(FULL)

    if only:
        original = getattr(Store, only)

        def wrapped(self: Store, *args: Any, **kwargs: Any) -> Any:
            with monkeypatch.context() as m:
                m.setattr(self, "transaction", failing.__get__(self))
                return original(self, *args, **kwargs)

        monkeypatch.setattr(Store, only, wrapped)
    else:
        monkeypatch.setattr(Store, "transaction", failing)
    try:
        yield
    finally:
        monkeypatch.undo()


@pytest.mark.anyio
async def test_a_full_disk_fails_the_cycle_in_a_sentence_and_the_next_recovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "full.db"
    async with open_runtime(small(), options(db)) as rt:
        first = await rt.engine.refresh()
        assert first.status == "ok", first.lines()
        granted = rt.engine.budget.total_granted
        with disk_full(monkeypatch):
            report = await rt.engine.refresh(full=False)
        assert report.status == "failed"
        assert f"The database {db} could not be written (the disk is full" in report.fatal
        assert report.summary() == report.fatal
        # Found at the run's start: nothing was asked, no credit spent on data nobody keeps.
        assert report.credits_used == 0 and rt.engine.budget.total_granted == granted
        assert report.finished >= report.started
        # Space again: the next cycle stores as before.
        again = await rt.engine.refresh(full=False)
        assert again.status == "ok", again.lines()
        assert again.quotes > 0
    with Store(db) as store:
        runs = store.rows("SELECT status FROM refresh_runs ORDER BY id")
    assert [r["status"] for r in runs] == ["ok", "ok"]


@pytest.mark.anyio
async def test_a_write_failing_mid_cycle_fails_that_cycle_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "mid.db"
    async with open_runtime(small(), options(db)) as rt:
        assert (await rt.engine.refresh()).status == "ok"
        with disk_full(monkeypatch, only="store_quotes"):
            report = await rt.engine.refresh(full=False)
        assert report.status == "failed"
        assert "the disk is full" in report.fatal
        again = await rt.engine.refresh(full=False)
        assert again.status == "ok", again.lines()
    with Store(db) as store:
        runs = store.rows("SELECT status, message FROM refresh_runs ORDER BY id")
    # The run's row could be closed, with the sentence.
    assert [r["status"] for r in runs] == ["ok", "failed", "ok"]
    assert "the disk is full" in runs[1]["message"]


@pytest.mark.anyio
async def test_a_database_deleted_under_the_run_is_created_again(tmp_path: Path) -> None:
    home = tmp_path / "data"
    home.mkdir()
    db = home / "gone.db"
    async with open_runtime(small(), options(db)) as rt:
        assert (await rt.engine.refresh()).status == "ok"
        # A cleaner empties the directory, and takes it too.
        for path in home.iterdir():
            path.unlink()
        home.rmdir()
        report = await rt.engine.refresh(full=False)
        assert report.status == "ok", report.lines()
    # The new file has the new cycle (SQLite alone would have gone on writing the deleted one).
    with Store(db, create=False) as store:
        assert store.rows("SELECT status FROM refresh_runs") == [{"status": "ok"}]
        assert store.rows("SELECT count(*) AS n FROM quotes")[0]["n"] == report.quotes > 0


# ---------------------------------------------------------------------------------------------
# Through the real headless loop, in a process of its own.

#: momoscan's main, with every write transaction failing as a full disk fails while `flag`
#: exists.
RUNNER = textwrap.dedent(
    """
    import contextlib, sqlite3, sys
    from pathlib import Path
    from momoscan.store import Store
    from momoscan.cli import main

    flag = Path(sys.argv[1])
    real = Store.transaction

    @contextlib.contextmanager
    def transaction(self):
        with real(self) as conn:
            yield conn
            if flag.exists():
                raise sqlite3.OperationalError("database or disk is full")

    Store.transaction = transaction
    sys.exit(main(sys.argv[2:]))
    """
)


def next_doc(process: subprocess.Popen[str], timeout: float = 120) -> dict[str, Any]:
    """The next cycle's JSON document on stdout."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.5)
        if ready:
            line = process.stdout.readline()
            if not line:
                break
            doc: dict[str, Any] = json.loads(line)
            return doc
        if process.poll() is not None:
            break
    raise AssertionError(f"no cycle came; exit {process.poll()}")


def test_the_headless_loop_goes_on_through_a_full_disk(tmp_path: Path) -> None:
    flag = tmp_path / "disk-is-full"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            RUNNER,
            str(flag),
            "--headless",
            "--json",
            "--interval",
            "1",
            "--db",
            str(tmp_path / "loop.db"),
            "--demo-size",
            "30",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert next_doc(process)["refresh"]["status"] in ("ok", "partial")
        flag.touch()
        failed = [next_doc(process)["refresh"] for _ in range(3)]
        # The cycle under way when the disk filled may have stored part of its work first.
        assert all(r["status"] == "failed" for r in failed[1:]), failed
        assert all(r["credits_used"] == 0 for r in failed[1:]), failed
        flag.unlink()
        for _ in range(3):
            recovered = next_doc(process)["refresh"]
            if recovered["status"] != "failed":
                break
        assert recovered["status"] in ("ok", "partial"), recovered
        assert recovered["quotes"] > 0
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 0, err
    assert "Traceback" not in err and "ExceptionGroup" not in err, err
    said = [line for line in err.splitlines() if "could not be written" in line]
    # One line a failed cycle, each a whole sentence saying what to do.
    assert len(said) >= 2, err
    assert all(line.startswith("momoscan: The database ") for line in said), said
    assert all("the disk is full: free some space" in line for line in said), said
