"""The app's widgets, and what they share."""

from __future__ import annotations

from weakref import WeakKeyDictionary

from rich.text import Span, Text
from textual.widget import Widget

_TitleKey = tuple[str, str, tuple[Span, ...]]
_TITLES: WeakKeyDictionary[Widget, _TitleKey] = WeakKeyDictionary()


def set_border_title(widget: Widget, title: Text) -> None:
    """Set `widget.border_title` to `title`, or do nothing when the text and its styles are
    what was set last.

    Textual's setter repaints the whole widget on every assignment, the same title included,
    and a frame repaints the bounding box of all its changes: one panel's title set once a
    second beside a status bar at the other edge meant the whole screen re-rendered in most
    frames of a refresh (measured: 120 sets in 8.5 s of the lag bench, each a 45-line
    repaint). Titles set through here are compared first: text, base style and spans (a
    `Text`'s own `==` leaves the base style out)."""
    key = (title.plain, str(title.style), tuple(title.spans))
    if _TITLES.get(widget) == key:
        return
    _TITLES[widget] = key
    widget.border_title = title
