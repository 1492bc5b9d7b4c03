"""The status bar: mode, market session, freshness, coverage, credits, progress, last error."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from ... import format as fmt
from ... import market_hours as mh
from ...models import Progress, Session
from ...queries import Snapshot

SESSION_STYLE = {
    Session.OPEN: "bold black on green",
    Session.PRE: "bold black on cyan",
    Session.AFTER: "bold black on blue",
    Session.CLOSED: "bold white on grey30",
}
SESSION_LABEL = {
    Session.OPEN: "OPEN",
    Session.PRE: "PRE-MARKET",
    Session.AFTER: "AFTER HOURS",
    Session.CLOSED: "CLOSED",
}


#: Words of the stream's status line that colour it as a warning.
STREAM_WARNINGS = ("down", "stalled", "silent", "other-listing")


@dataclass
class StatusState:
    demo: bool = True
    #: Who collects when this window only views ("momoscan collect (pid 4242)"); "" when
    #: this process collects.
    viewer: str = ""
    faults: str = ""  # the simulated market's fault mode, described
    market_time: datetime | None = None
    session: Session = Session.CLOSED
    universe: str = ""
    tiers: tuple[str, ...] = ()
    min_price: float = 1.0
    snapshot: Snapshot | None = None
    credits_used: int = 0
    plan_limit: int = 0
    #: "stream: 48 live · polling 7,952", "stream stalled · polling 8,000", or why it is down
    #: (`StreamStatus.line`).
    stream: str = ""
    progress: Progress | None = None
    credit_note: str = ""
    #: The scheduler's coverage: the stalest name's age and what it favours.
    coverage: str = ""
    refreshing: bool = False
    error: str = ""
    stale: bool = False
    notes: list[str] = field(default_factory=list)
    #: The oldest Age shown in the tables, at the same tick and by the same clock as theirs
    #: (None: no rows).
    oldest_age: float | None = None


class StatusBar(Static):
    """Two lines at the top of the screen. Built from Text objects: API messages and names
    are data, never markup."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", markup=False, **kwargs)  # type: ignore[arg-type]
        self.state = StatusState()
        self._shown: Text | None = None

    def show(self, now: float) -> None:
        """Draw the state as of wall-clock `now` (Unix seconds). Its height is fixed (two
        lines, in app.tcss): no layout pass for the screen, and nothing at all when the text
        is what is drawn already (it is asked after each progress message and each second)."""
        text = render_status(self.state, now)
        if text == self._shown:
            return
        self._shown = text
        self.update(text, layout=False)


def render_status(state: StatusState, now: float) -> Text:
    line = Text(no_wrap=True, overflow="ellipsis")
    if state.demo:
        line.append(" DEMO · simulated market ", style="bold black on yellow")
        if state.faults:
            line.append(f" faults: {state.faults} ", style="bold white on dark_orange3")
    else:
        line.append(" LIVE ", style="bold black on green")
    if state.viewer:
        # Short on the first line (the clock must fit at 80 columns); who, on the second.
        line.append(" ")
        line.append(" VIEWER ", style="bold black on magenta")
    line.append(" ")
    line.append(f" {SESSION_LABEL[state.session]} ", style=SESSION_STYLE[state.session])
    if state.market_time is not None:
        clock = state.market_time.astimezone(mh.ET).strftime("%a %Y-%m-%d %H:%M:%S ET")
        line.append(f" {clock}{' (sim clock)' if state.demo else ''}")
        if state.session is not Session.OPEN:
            opens = mh.next_open(state.market_time).strftime("%a %H:%M")
            line.append(f" · opens {opens} ET", style="dim")
    snap = state.snapshot
    if snap is not None:
        info = snap.universe
        line.append(" · universe ")
        line.append(f"{info.size}", style="bold")
        line.append(f" symbols, {state.universe}")
        if info.as_of:
            line.append(f", {info.as_of}")
    line.append(" · tiers ")
    line.append(", ".join(state.tiers), style="bold")
    line.append(f" · ≥ ${state.min_price:g}")

    second = Text(no_wrap=True, overflow="ellipsis")
    if state.viewer:
        second.append(f"of {state.viewer} · ", style="bold magenta")
    if snap is not None and snap.last_good_run is not None and snap.last_good_run.finished_at:
        finished = snap.last_good_run.finished_at
        second.append(f"refreshed {fmt.age(now - finished)} ago")
    elif state.refreshing:
        second.append("first refresh under way", style="cyan")
    else:
        second.append("not refreshed yet", style="dim")
    if state.oldest_age is not None:
        second.append(f" · oldest row {fmt.age(state.oldest_age)}")
        if state.demo:
            second.append(" (sim clock)", style="dim")
    if snap is not None:
        size = snap.universe.size
        second.append(" · fresh ")
        second.append(f"{snap.fresh}/{size}", style="bold" if snap.fresh >= size else "yellow")
        if snap.symbol_errors:
            second.append(f" · {snap.symbol_errors} failing", style="yellow")
        if snap.stale:
            second.append(f" · {snap.stale} stale or halted", style="yellow")
    if state.plan_limit:
        second.append(f" · credits {state.credits_used}/{state.plan_limit} this min")
    if state.stream:
        # A stream that is down or silent, or that sent prices of another listing, is news.
        warn = any(word in state.stream for word in STREAM_WARNINGS)
        second.append(f" · {state.stream}", style="yellow" if warn else "")
    if state.coverage:
        second.append(f" · {state.coverage}")
    if state.credit_note:
        second.append(f" · {state.credit_note}", style="yellow")
    if snap is not None and snap.universe.warning:
        second.append(f" · {snap.universe.warning}", style="yellow")
    if state.refreshing and state.progress is not None:
        p = state.progress
        second.append(" · ")
        label = p.message or p.step
        second.append(f"⟳ {label}", style="cyan")
    if state.stale:
        second.append(" · ")
        second.append(" STALE ", style="bold white on red")
    if state.error:
        second.append(" · ")
        second.append(state.error, style="red")
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append_text(line)
    text.append("\n")
    text.append_text(second)
    return text
