"""Number and time formatting shared by the headless tables and the TUI."""

from __future__ import annotations

from datetime import datetime

from .market_hours import ET


def price(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.4f}" if value < 1 else f"{value:,.2f}"


def pct(value: float | None, *, sign: bool = True) -> str:
    if value is None:
        return "-"
    return f"{value:+.2f}%" if sign else f"{value:.2f}%"


#: Units of `count`, smallest first.
_UNITS = ((1e3, "K"), (1e6, "M"), (1e9, "B"), (1e12, "T"))


def count(value: int | float | None) -> str:
    """Compact volume (shares or contracts): 950, 9.99K, 12.3K, 4.56M, 1.20B.

    Two decimals under 10 of a unit, one above, the unit chosen after rounding, so a value at
    a unit's edge
    never rolls over: 999,950 is 1.00M (not 1000.0K) and 9,999 is 10.0K (not 10.00K).
    """
    if value is None:
        return "-"
    v = float(value)
    if abs(v) < 999.5:
        return f"{v:.0f}"
    for limit, suffix in _UNITS:
        scaled = v / limit
        text = f"{scaled:.2f}" if abs(scaled) < 9.995 else f"{scaled:.1f}"
        if abs(float(text)) < 999.95 or suffix == _UNITS[-1][1]:
            return text + suffix
    raise AssertionError("unreachable")  # the last unit always returns


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


def et_time(at: float, *, seconds: bool = True) -> str:
    """Unix seconds as the US/Eastern wall clock: `10:37:05`, or `10:37` without seconds."""
    return datetime.fromtimestamp(at, ET).strftime("%H:%M:%S" if seconds else "%H:%M")
