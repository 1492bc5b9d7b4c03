"""The refresh engine, one module a step of its cycle:

- `cycle.py`: the Engine, which runs the steps in order and owns the report;
- `universe.py`: load the universe once a trading day;
- `quotes.py`: the quote sweep, in batches under the credit budget;
- `scheduler.py`: which symbols get this cycle's credits, in which order;
- `options.py`: OCC day files and the daily leaders, Cboe chains for the watch set;
- `store_thread.py`: the single SQLite writer; `context.py`: what the steps share.
"""

from typing import TYPE_CHECKING

from .context import ProgressCallback, RefreshFailed, RefreshReport, StepContext
from .store_thread import StoreThread

if TYPE_CHECKING:
    from .cycle import Engine


def __getattr__(name: str) -> object:
    # The Engine (and the sources it drives: httpx, websockets, tenacity) on first use: a
    # viewer reads the store through StoreThread and never builds one.
    if name == "Engine":
        from .cycle import Engine

        return Engine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Engine",
    "ProgressCallback",
    "RefreshFailed",
    "RefreshReport",
    "StepContext",
    "StoreThread",
]
