"""Each process imports only what its job needs: no pandas (0.2-0.4 s and 35 MB a process)
unless the Nasdaq Data Link universe is used, no store, Rich or Textual in the workers."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

HEAVY = ("pandas", "textual", "sqlite_utils", "rich", "click")


def imported(stderr: str) -> set[str]:
    """Top-level packages named in `-X importtime` output."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


def test_the_headless_path_imports_no_pandas_and_no_textual() -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import momoscan.cli"],
        capture_output=True,
        text=True,
        check=True,
    )
    names = imported(result.stderr)
    assert "momoscan" in names
    assert "pandas" not in names and "textual" not in names and "numpy" not in names
    # sqlite-utils (with click and pluggy) only when a schema is created or migrated.
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, momoscan.cli; print(sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "'momoscan.store'" in loaded
    assert "'sqlite_utils'" not in loaded and "'click'" not in loaded and "'pluggy'" not in loaded


def test_sqlite_utils_only_for_a_new_or_older_schema_and_without_pandas(tmp_path: Path) -> None:
    db = tmp_path / "lean.db"
    code = (
        "import sys; from momoscan.store import Store; Store(sys.argv[1]).close(); "
        "print('sqlite_utils' in sys.modules, 'pandas' in sys.modules)"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", code, str(db)], capture_output=True, text=True, check=True
        ).stdout.split()
        for _ in range(2)
    ]
    # A new file: its schema made by sqlite-utils, pandas hidden; then a current file: neither.
    assert runs == [["True", "False"], ["False", "False"]]


def test_workers_import_neither_the_store_nor_rich_nor_pandas(tmp_path: Path) -> None:
    # Run as the console script does: a __main__ file that imports the whole CLI first (which
    # spawn would otherwise re-run in every worker).
    script = tmp_path / "momoscan_main.py"
    script.write_text(
        textwrap.dedent(
            """
            import asyncio
            from datetime import date, datetime

            import momoscan.cli  # noqa: F401, as the console script
            from momoscan import market_hours as mh
            from momoscan.clock import FixedClock
            from momoscan.processes import loaded_modules
            from momoscan.simulated.transport import ProcessMarketTransport
            from momoscan.sources.occ import parse_day
            from momoscan.sources.offload import Offloader

            async def main() -> None:
                market = ProcessMarketTransport(
                    seed=7, size=0, first_day=date(2026, 11, 20),
                    clock=FixedClock(datetime(2026, 11, 20, 11, 30, tzinfo=mh.ET)),
                )
                loop = asyncio.get_running_loop()
                sim = await loop.run_in_executor(market._pool, loaded_modules)
                await market.aclose()
                offload = Offloader(threshold=0)
                await offload.run(parse_day, b"No record(s) found", date(2026, 11, 20))
                parse = await offload.heavy(loaded_modules)
                await offload.aclose()
                print(" ".join(sorted({m.split(".")[0] for m in sim})))
                print(" ".join(sorted({m.split(".")[0] for m in parse})))

            if __name__ == "__main__":
                asyncio.run(main())
            """
        )
    )
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True, timeout=120
    )
    sim, parse = (set(line.split()) for line in result.stdout.splitlines()[-2:])
    assert "numpy" in sim and "httpx" in sim  # what the market needs
    assert "httpx" in parse  # the OCC parser's module was imported to run it
    for worker in (sim, parse):
        assert not worker & set(HEAVY), worker & set(HEAVY)
    assert "momoscan" in parse and "sqlite3" not in parse


def test_pandas_stays_importable_for_the_nasdaq_universe() -> None:
    code = (
        "import momoscan.store as s; s._sqlite_utils(); "
        "import pandas, sqlite_utils.db as d; print(d.pd is None, pandas.__name__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["True", "pandas"]
