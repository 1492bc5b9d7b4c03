"""The refresh engine, one module a step of its cycle:

- `cycle.py`: the Engine, which runs the steps in order and owns the report;
- `universe.py`: load the universe once a trading day;
- `quotes.py`: the quote sweep, in batches under the credit budget;
- `scheduler.py`: which symbols get this cycle's credits, in which order;
- `options.py`: OCC day files and the daily leaders, Cboe chains for the watch set;
- `store_thread.py`: the single SQLite writer; `context.py`: what the steps share.
"""

from .context import ProgressCallback, RefreshFailed, RefreshReport, StepContext
from .cycle import Engine
from .store_thread import StoreThread

__all__ = [
    "Engine",
    "ProgressCallback",
    "RefreshFailed",
    "RefreshReport",
    "StepContext",
    "StoreThread",
]
