"""Number and time formatting shared by the headless tables and the TUI."""

from __future__ import annotations


def price(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.4f}" if value < 1 else f"{value:,.2f}"


def pct(value: float | None, *, sign: bool = True) -> str:
    if value is None:
        return "-"
    return f"{value:+.2f}%" if sign else f"{value:.2f}%"


def count(value: int | float | None) -> str:
    """Compact volume: 950, 12.3K, 4.56M, 1.2B."""
    if value is None:
        return "-"
    v = float(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(v) >= limit:
            scaled = v / limit
            return f"{scaled:.2f}{suffix}" if scaled < 10 else f"{scaled:.1f}{suffix}"
    return f"{v:.0f}"


def ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}x"


def age(seconds: float | None) -> str:
    """How old: 4s, 12m, 3h, 2d."""
    if seconds is None:
        return "-"
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def share_bar(share: float, width: int) -> str:
    """A proportional bar of full and eighth blocks, `width` cells for a share of 1."""
    eighths = round(max(0.0, min(1.0, share)) * width * 8)
    full, rest = divmod(eighths, 8)
    return "█" * full + (" ▏▎▍▌▋▊▉"[rest] if rest else "")
