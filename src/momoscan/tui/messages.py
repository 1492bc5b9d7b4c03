"""Messages the refresh worker posts to the app. The engine knows nothing of these: the app
turns its callbacks into them."""

from __future__ import annotations

from textual.message import Message

from ..engine import RefreshReport
from ..models import Progress
from ..queries import Snapshot


class RefreshProgress(Message):
    """A refresh step moved on. Bursts coalesce: only the newest matters."""

    def __init__(self, progress: Progress) -> None:
        super().__init__()
        self.progress = progress

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RefreshProgress)


class SnapshotReady(Message):
    """A fresh read of the store, ready to show."""

    def __init__(self, snapshot: Snapshot, *, tiers: tuple[str, ...]) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.tiers = tiers

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SnapshotReady)


class RefreshFinished(Message):
    """A refresh cycle ended, well or not."""

    def __init__(self, report: RefreshReport) -> None:
        super().__init__()
        self.report = report


class ChartRequested(Message):
    """The user asked for a symbol's chart (a click on a symbol cell)."""

    def __init__(self, symbol: str) -> None:
        super().__init__()
        self.symbol = symbol
