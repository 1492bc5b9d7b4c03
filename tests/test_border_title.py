"""Border titles set through `set_border_title`: a title that did not change repaints nothing
(Textual's setter repaints the whole widget on every assignment), and any change shows."""

from __future__ import annotations

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import Static

from momoscan.tui.widgets import set_border_title


class Boxed(App[None]):
    CSS = "Static { border: round white; height: 5; }"

    def compose(self) -> ComposeResult:
        yield Static("body")


@pytest.mark.anyio
async def test_an_unchanged_title_repaints_nothing_and_every_change_shows() -> None:
    app = Boxed()
    async with app.run_test(size=(60, 8)) as pilot:
        box = app.query_one(Static)
        refreshes: list[object] = []
        original = box.refresh

        def counting(*regions: object, **kwargs: object) -> object:
            refreshes.append(kwargs)
            return original(*regions, **kwargs)  # type: ignore[arg-type]

        box.refresh = counting  # type: ignore[method-assign]
        set_border_title(box, Text("Options · 20 chains, oldest 59s", style="bold"))
        await pilot.pause()
        assert len(refreshes) == 1
        assert "oldest 59s" in app.screen._compositor.render_strips()[0].text

        # The same title, built anew (as the app does once a second): nothing repainted.
        for _ in range(3):
            set_border_title(box, Text("Options · 20 chains, oldest 59s", style="bold"))
        assert len(refreshes) == 1

        # A new age shows.
        set_border_title(box, Text("Options · 20 chains, oldest 1m", style="bold"))
        await pilot.pause()
        assert len(refreshes) == 2
        assert "oldest 1m" in app.screen._compositor.render_strips()[0].text

        # Only the base style changed: `Text.__eq__` would call these equal; the title is set.
        set_border_title(box, Text("Options · 20 chains, oldest 1m", style="yellow"))
        assert len(refreshes) == 3
        # Only a span's style changed: set too.
        spanned = Text("Options · 20 chains, oldest 1m", style="yellow")
        spanned.stylize("dim", 0, 7)
        set_border_title(box, spanned)
        assert len(refreshes) == 4
