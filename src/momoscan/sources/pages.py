"""What a source says when an answer is a web page or outside text goes into a message: the
same three small readings for every keyless feed (Nasdaq Trader, SEC EDGAR)."""

from __future__ import annotations

import re

from ..sanitize import clean


def looks_like_html(text: str) -> bool:
    """Whether `text` opens as a web page (a block page, a maintenance page, a login)."""
    head = text.lstrip()[:512].lower()
    return head.startswith(("<!doctype html", "<html")) or "<body" in head or "<head" in head


def one_line(text: str, limit: int = 80) -> str:
    """Outside text for a message: cleaned (`sanitize.clean`), one line, cut to `limit`
    characters."""
    flat = " ".join(clean(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def page_title(text: str) -> str:
    """A web page's `<title>`, as one clean line ("" without one)."""
    match = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    return one_line(match.group(1)) if match else ""
