"""The options volume panel, as proportional bars (a table) or as a treemap whose block areas
are the shares (`t` toggles), in one of two views (`w` toggles):

- the watch set: each watched underlying's share of the watch set's options volume today
  (Cboe's chains), with the age of its chain; a chain older than the limit is dimmed and left
  out of the shares;
- the whole market: OCC's newest day, the top names and everything else as one "all others"
  row, each a true share of all US-listed options volume.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import ContentSwitcher

from ... import format as fmt
from ...queries import ShareRow
from . import set_border_title
from .fast_table import Column, FastTable
from .treemap import Block, Treemap

#: Left out from the lowest priority up when the panel is too narrow.
BAR_COLUMNS = (
    Column("rank", "#", 2, "right", priority=0),
    Column("underlying", "Underlying", 10, priority=9),
    Column("bar", "Share", 10, flex=True, priority=1),
    Column("pct", "%", 5, "right", priority=8),
    Column("volume", "Volume", 6, "right", priority=7),
    Column("split", "Calls/Puts", 10, "right", priority=3),
    Column("unusual", "Unusual", 7, "right", priority=2),
    Column("age", "Age", 3, "right", priority=6),
    Column("flag", "", 3, priority=5),
)


class ShareBars(FastTable):
    """One row per underlying: a bar whose length is its share (calls green, puts red), as
    wide as the panel allows."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(BAR_COLUMNS, zebra=False, **kwargs)
        self._rows: list[ShareRow] = []
        self._bar_width = 0

    @property
    def rows(self) -> list[ShareRow]:
        return list(self._rows)

    def show(self, rows: Sequence[ShareRow]) -> None:
        self._rows = list(rows)
        self._bar_width = self.column_width("bar") or 0
        width = max(2, self._bar_width - 1)  # room for the partial blocks at both ends
        top = max((r.share for r in rows), default=0.0) or 1.0
        out = []
        for rank, r in enumerate(rows, start=1):
            calls = r.calls / r.total if r.total else 0.0
            scale = r.share / top
            dim = "dim" if r.stale else ""
            bar = Text(no_wrap=True)
            if not r.stale:
                bar.append(fmt.share_bar(scale * calls, width), style="green")
                bar.append(fmt.share_bar(scale * (1 - calls), width), style="red")
            if r.stale:
                age = Text(fmt.age(r.age), style="yellow")
            elif r.age is not None:
                age = Text(fmt.age(r.age), style="dim")
            else:
                age = Text("")
            cells = [
                Text(str(rank), style="dim"),
                Text(r.underlying, style="dim" if r.stale else "bold"),
                bar,
                Text("-" if r.stale else f"{r.share * 100:.1f}%", style=dim),
                Text(fmt.count(r.total), style=dim),
                Text(f"{fmt.count(r.calls)}/{fmt.count(r.puts)}", style=dim),
                Text(str(r.unusual) if r.unusual else "", style=dim or "yellow"),
                age,
                Text("NEW", style="bold black on magenta") if r.is_new else Text(""),
            ]
            out.append((r.underlying, cells))
        self.set_rows(out)

    def tick(self, market_now: float) -> None:
        """Age the chains to market-clock time `market_now` (once a second)."""
        for r in self._rows:
            if r.as_of is not None:
                self.update_cell(
                    r.underlying,
                    "age",
                    Text(
                        fmt.age(max(0.0, market_now - r.as_of)),
                        style="yellow" if r.stale else "dim",
                    ),
                )

    def layout_changed(self) -> None:
        # The bar's column changed width: draw the bars again to fill it.
        if self._rows and self.column_width("bar") != self._bar_width:
            self.show(self._rows)


class OptionsPanel(Vertical):
    """Bars or treemap of the options volume shares; the border's title says what the shares
    are of and how old they are."""

    #: `z` zooms it like the tables (a container that cannot take focus itself is not
    #: maximizable by default in Textual: its bars or treemap have the focus).
    ALLOW_MAXIMIZE = True

    class Drill(Message):
        """Open an underlying's contracts."""

        def __init__(self, underlying: str) -> None:
            super().__init__()
            self.underlying = underlying

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: "watch" (the watch set's chains) or "market" (OCC's all-underlyings day).
        self.view = "watch"
        self._rows: list[ShareRow] = []

    def compose(self) -> ComposeResult:
        with ContentSwitcher(initial="bars", id="options-views"):
            yield ShareBars(id="bars")
            yield Treemap(id="treemap")

    @property
    def rows(self) -> list[ShareRow]:
        """The rows shown, in order."""
        return list(self._rows)

    @property
    def showing_treemap(self) -> bool:
        return self.query_one(ContentSwitcher).current == "treemap"

    def toggle(self) -> None:
        switcher = self.query_one(ContentSwitcher)
        switcher.current = "bars" if switcher.current == "treemap" else "treemap"
        self.query_one(f"#{switcher.current}").focus()

    @property
    def selected_key(self) -> str | None:
        if self.showing_treemap:
            return self.query_one(Treemap).selected_key
        return self.query_one(ShareBars).selected_key

    def row_for(self, key: str) -> ShareRow | None:
        return next((r for r in self._rows if r.underlying == key), None)

    def show(self, rows: Sequence[ShareRow], title: Text) -> None:
        self._rows = list(rows)
        set_border_title(self, title)
        self.query_one(ShareBars).show(rows)
        blocks = []
        for r in rows:
            if r.stale or r.share <= 0:
                continue  # not part of the shares: no area
            calls = r.calls / r.total if r.total else 0.5
            # Call-heavy underlyings green, put-heavy red, balanced grey; "all others" blue.
            style = (
                "on grey23"
                if r.grouped
                else "on dark_green"
                if calls >= 0.6
                else "on dark_red"
                if calls <= 0.4
                else "on grey30"
            )
            blocks.append(
                Block(
                    key=r.underlying,
                    label=r.underlying,
                    share=r.share,
                    detail=f"{r.share * 100:.1f}% · {fmt.count(r.total)}",
                    style=style,
                    flag="NEW" if r.is_new else ("UNUSUAL" if r.unusual else ""),
                )
            )
        self.query_one(Treemap).set_blocks(blocks)

    def on_fast_table_row_selected(self, event: FastTable.RowSelected) -> None:
        event.stop()
        self.post_message(self.Drill(event.key))

    def on_treemap_selected(self, event: Treemap.Selected) -> None:
        event.stop()
        self.post_message(self.Drill(event.key))
