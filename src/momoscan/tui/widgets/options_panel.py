"""The options volume panel: each underlying's share of the watch set's options volume, as
proportional bars (a table) or as a treemap whose block areas are the shares (`t` toggles)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import ContentSwitcher, Static

from ... import format as fmt
from ...queries import ShareRow
from .fast_table import Column, FastTable
from .treemap import Block, Treemap

BAR_WIDTH = 30


BAR_COLUMNS = (
    Column("rank", "#", 3, "right"),
    Column("underlying", "Underlying", 10),
    Column("bar", "Share of volume (calls | puts)", BAR_WIDTH),
    Column("pct", "%", 6, "right"),
    Column("volume", "Volume", 8, "right"),
    Column("split", "Calls/Puts", 14, "right"),
    Column("unusual", "Unusual", 7, "right"),
    Column("flag", "", 5),
)


class ShareBars(FastTable):
    """One row per underlying: a bar whose length is its share (calls green, puts red)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(BAR_COLUMNS, zebra=False, **kwargs)

    def show(self, rows: Sequence[ShareRow]) -> None:
        top = max((r.share for r in rows), default=0.0) or 1.0
        out = []
        for rank, r in enumerate(rows, start=1):
            calls = r.calls / r.total if r.total else 0.0
            scale = r.share / top
            bar = Text(no_wrap=True)
            bar.append(fmt.share_bar(scale * calls, BAR_WIDTH - 1), style="green")
            bar.append(fmt.share_bar(scale * (1 - calls), BAR_WIDTH - 1), style="red")
            cells = [
                Text(str(rank), style="dim"),
                Text(r.underlying, style="bold"),
                bar,
                Text(f"{r.share * 100:.1f}%"),
                Text(fmt.count(r.total)),
                Text(f"{fmt.count(r.calls)}/{fmt.count(r.puts)}"),
                Text(str(r.unusual) if r.unusual else "", style="yellow"),
                Text("NEW", style="bold black on magenta") if r.is_new else Text(""),
            ]
            out.append((r.underlying, cells))
        self.set_rows(out)


class OptionsPanel(Vertical):
    """Bars or treemap of the options volume shares, with a title line."""

    class Drill(Message):
        """Open an underlying's contracts."""

        def __init__(self, underlying: str) -> None:
            super().__init__()
            self.underlying = underlying

    def compose(self) -> ComposeResult:
        yield Static("", id="options-title", markup=False)
        with ContentSwitcher(initial="bars", id="options-views"):
            yield ShareBars(id="bars")
            yield Treemap(id="treemap")

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

    def show(self, rows: Sequence[ShareRow], title: Text) -> None:
        self.query_one("#options-title", Static).update(title)
        self.query_one(ShareBars).show(rows)
        blocks = []
        for r in rows:
            calls = r.calls / r.total if r.total else 0.5
            # Call-heavy underlyings green, put-heavy red, balanced grey.
            style = (
                "on dark_green" if calls >= 0.6 else "on dark_red" if calls <= 0.4 else "on grey30"
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
