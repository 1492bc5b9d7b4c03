"""The status bar: mode, market session, freshness, coverage, credits, progress, last error.

Whatever the width, the bar shows first what a trader must not miss: DEMO or LIVE, the session
and the clock, a failing source or a stalled stream (in colour); then the credits, the filter,
the stalest name and the rest as room allows. Each part has a long form and shorter ones
(`credits 547/610 this min`, `cr 547/610`); `fitting.fit` places the must-see parts in their
shortest forms, then adds the others rank by rank where they fit and grows each to its longest
form that still fits. The whole text is one key away: the help screen (`?`) shows every part,
one a line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from ... import format as fmt
from ... import market_hours as mh
from ...marks import halted_now
from ...models import Progress, Session
from ...queries import Snapshot
from .fitting import HIGH, LOW, MID, MUST, Part, fit, flow

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


ALARM = "bold white on red"

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
    #: The tables' float filter in words (`rowfacts.float_filter_text`), "" without one.
    float_filter: str = ""
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
        self._now = 0.0

    def show(self, now: float) -> None:
        """Draw the state as of wall-clock `now` (Unix seconds), fitted to the bar's width. Its
        height is fixed (two lines, in app.tcss): no layout pass for the screen, and nothing at
        all when the text is what is drawn already (it is asked after each progress message
        and each second)."""
        self._now = now
        text = render_status(self.state, now, self.size.width or None)
        if text == self._shown:
            return
        self._shown = text
        self.update(text, layout=False)

    def on_resize(self) -> None:
        self.show(self._now)

    def full_text(self) -> Text:
        """Every part in its long form, one per line (for the help screen)."""
        return render_full(self.state, self._now)


def _t(text: str, style: str = "") -> Text:
    return Text(text, style=style)


def _clock(state: StatusState) -> list[Text]:
    if state.market_time is None:
        return []
    at = state.market_time.astimezone(mh.ET)
    if state.demo:
        return [
            _t(at.strftime("%a %Y-%m-%d %H:%M:%S ET (sim clock)")),
            _t(at.strftime("%a %H:%M:%S ET sim")),
            _t(at.strftime("%H:%M:%S sim")),
        ]
    return [_t(at.strftime("%a %Y-%m-%d %H:%M:%S ET")), _t(at.strftime("%H:%M:%S ET"))]


def _cut(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1].rstrip() + "…"


SHORT_TIERS = {"small": "sm", "large": "lg"}


def _short_tiers(tiers: Sequence[str]) -> str:
    return ",".join(SHORT_TIERS.get(t, t) for t in tiers)


def status_parts(state: StatusState, now: float) -> list[Part]:
    """The bar's parts in the order they are drawn."""
    parts: list[Part] = []

    def add(
        rank: int, *forms: Text | str, badge: bool = False, line: int = 0, grow: int = -1
    ) -> None:
        texts = [f if isinstance(f, Text) else _t(f) for f in forms]
        parts.append(Part(texts, rank, badge=badge, line=line, grow=grow))

    if state.demo:
        add(
            MUST,
            _t(" DEMO · simulated market ", "bold black on yellow"),
            _t(" DEMO ", "bold black on yellow"),
            badge=True,
            grow=LOW,
        )
        if state.faults:
            add(
                HIGH,
                _t(f" faults: {state.faults} ", "bold white on dark_orange3"),
                _t(" faults ", "bold white on dark_orange3"),
                badge=True,
            )
    else:
        add(MUST, _t(" LIVE ", "bold black on green"), badge=True)
    if state.viewer:
        add(MUST, _t(" VIEWER ", "bold black on magenta"), badge=True)
    label = SESSION_LABEL[state.session]
    style = SESSION_STYLE[state.session]
    short = {Session.PRE: "PRE", Session.AFTER: "AFTER"}.get(state.session, label)
    add(MUST, _t(f" {label} ", style), _t(f" {short} ", style), badge=True)
    if clock := _clock(state):
        add(MUST, *clock, badge=True, grow=MID)  # its date after the credits and the filter
    if state.market_time is not None and state.session is not Session.OPEN:
        opens = mh.next_open(state.market_time).strftime("%a %H:%M")
        add(LOW, _t(f"opens {opens} ET", "dim"))
    snap = state.snapshot
    # What must not be missed: a market-wide halt, the collector followed, a failing
    # refresh, a stalled stream.
    if snap is not None and snap.market_halt is not None:
        mwcb = snap.market_halt
        since = fmt.et_time(mwcb.halted_at, seconds=False)
        level = mwcb.reason[-1] if mwcb.reason[-1] in "123" else ""
        long = f" level {level}" if level else " (carried over)"
        add(
            MUST,
            _t(f" MARKET-WIDE HALT{long} since {since} ET ", ALARM),
            _t(f" MWCB{' L' + level if level else ''} {since} ", ALARM),
            badge=True,
            grow=HIGH,
        )
    if state.viewer:
        pid = state.viewer.rsplit("(", 1)[-1].rstrip(")")
        add(HIGH, _t(f"of {state.viewer}", "bold magenta"), _t(f"of {pid}", "bold magenta"), line=2)
    if state.stale:
        add(MUST, _t(" STALE ", "bold white on red"), badge=True)
    if state.error:
        # Said whole once the credits and the filter are on the bar; in full behind `?`; at
        # its shortest, which sources fail ("failing: OCC, Cboe").
        causes = state.error.split("; ")
        sources = list(dict.fromkeys(re.split(r" \(|: ", c, maxsplit=1)[0] for c in causes))
        add(
            MUST,
            _t(state.error, "red"),
            _t(
                _cut(causes[0], 60) + (f" (+{len(causes) - 1} more)" if len(causes) > 1 else ""),
                "red",
            ),
            _t(_cut("failing: " + ", ".join(sources), 34), "bold red"),
            grow=MID,
        )
    if state.stream:
        warn = any(word in state.stream for word in STREAM_WARNINGS)
        head, _, _rest = state.stream.partition(" · ")
        rank = MUST if warn else MID
        colour = "bold yellow" if warn else ""
        add(rank, _t(state.stream, colour), _t(head, colour), grow=MID)
    if state.plan_limit:
        add(
            HIGH,
            f"credits {state.credits_used}/{state.plan_limit} this min",
            f"cr {state.credits_used}/{state.plan_limit}",
        )
    add(
        HIGH,
        Text.assemble(
            "tiers ",
            (", ".join(state.tiers), "bold"),
            f" · ≥ ${state.min_price:g}",
            f" · {state.float_filter}" if state.float_filter else "",
        ),
        Text.assemble(
            (_short_tiers(state.tiers), "bold"),
            f" ≥${state.min_price:g}",
            f" {state.float_filter}" if state.float_filter else "",
        ),
    )
    if state.refreshing and state.progress is not None:
        p = state.progress
        message = p.message or p.step
        # LOW: it comes and goes with each step, and must not push the rest about.
        add(LOW, _t(f"⟳ {message}", "cyan"), _t(f"⟳ {_cut(message, 24)}", "cyan"), _t("⟳", "cyan"))
    if state.coverage:
        head, _, _rest = state.coverage.partition(" · ")
        add(HIGH, state.coverage, head, head.split(" (")[0])
    if snap is not None and snap.last_good_run is not None and snap.last_good_run.finished_at:
        ago = fmt.age(now - snap.last_good_run.finished_at)
        add(MID, f"refreshed {ago} ago", f"ref {ago}")
    elif state.refreshing:
        add(MID, _t("first refresh under way", "cyan"), _t("first refresh", "cyan"))
    else:
        add(MID, _t("not refreshed yet", "dim"))
    if snap is not None:
        size = snap.universe.size
        fresh = _t(f"{snap.fresh}/{size}", "bold" if snap.fresh >= size else "yellow")
        add(MID, Text.assemble("fresh ", fresh), fresh)
        if snap.symbol_errors:
            add(MID, _t(f"{snap.symbol_errors} failing", "yellow"))
        if snap.stale:
            # Not quoted this session: not answering, or halted since before it (a halt of
            # today is counted below, never as stale).
            add(
                MID,
                _t(f"{snap.stale} not quoted this session", "yellow"),
                _t(f"{snap.stale} stale", "yellow"),
            )
        halted = len(halted_now(snap))
        if halted:
            add(
                HIGH,
                _t(f"{halted} halted now (H: halts)", "bold red"),
                _t(f"{halted} halted", "bold red"),
            )
    if state.oldest_age is not None:
        sim = " (sim clock)" if state.demo else ""
        add(
            LOW,
            f"oldest row {fmt.age(state.oldest_age)}{sim}",
            f"oldest {fmt.age(state.oldest_age)}",
        )
    if state.credit_note:
        add(HIGH, _t(state.credit_note, "yellow"), _t(_cut(state.credit_note, 30), "yellow"))
    if snap is not None:
        info = snap.universe
        words = f"universe {info.size} symbols, {state.universe}"
        add(LOW, words + (f", {info.as_of}" if info.as_of else ""), f"{info.size} symbols")
        if info.warning:
            add(MID, _t(info.warning, "yellow"), _t(_cut(info.warning, 30), "yellow"))
    return parts


def render_status(state: StatusState, now: float, width: int | None = None) -> Text:
    """The bar's two lines for a bar `width` cells wide (None: every part in full)."""
    parts = status_parts(state, now)
    lines = fit(parts, width) if width else (flow(parts, 10**6) or [Text(), Text()])
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append_text(lines[0])
    text.append("\n")
    text.append_text(lines[1])
    return text


def render_full(state: StatusState, now: float) -> Text:
    """Every part in its long form, one to a line: what the bar shortens or leaves out."""
    text = Text()
    for part in status_parts(state, now):
        if text:
            text.append("\n")
        text.append_text(part.forms[0])
    return text
