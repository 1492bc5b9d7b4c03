"""The app's widgets, and what they share."""

from __future__ import annotations

from weakref import WeakKeyDictionary

from rich.style import Style
from rich.text import Span, Text
from textual.widget import Widget

#: What a `Text` looks like: its plain text, base style and spans.
TextKey = tuple[str, str | Style, tuple[Span, ...]]


def text_key(text: Text) -> TextKey:
    """`text`'s plain text, base style and spans: all that its segments depend on, and
    hashable. Two texts alike here draw alike; a `Text`'s own `==` leaves the base style
    out, so `Text("1", style="red") == Text("1", style="green")`."""
    return text.plain, text.style, tuple(text.spans)


_TITLES: WeakKeyDictionary[Widget, TextKey] = WeakKeyDictionary()


def set_border_title(widget: Widget, title: Text) -> None:
    """Set `widget.border_title` to `title`, or do nothing when the text and its styles are
    what was set last.

    Textual's setter repaints the whole widget on every assignment, the same title included,
    and a frame repaints the bounding box of all its changes: one panel's title set once a
    second beside a status bar at the other edge meant the whole screen re-rendered in most
    frames of a refresh (measured: 120 sets in 8.5 s of the lag bench, each a 45-line
    repaint). Titles set through here are compared first, by `text_key`."""
    key = text_key(title)
    if _TITLES.get(widget) == key:
        return
    _TITLES[widget] = key
    widget.border_title = title
