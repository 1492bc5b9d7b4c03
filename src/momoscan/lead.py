"""Options-led or price-led: for a name that both ran in price and led in options activity on
one trading day, which came first and by how long.

- **Ran in price**: the first time momoscan saw the name enter the top 10 movers (a "movers"
  signal) or stored a price of it at least `RUN_MOVE_PCT` from the previous close, either way
  (`queries.lead.price_runs`).
- **Led in options activity**: the first options signal momoscan raised for it that day from
  the intraday chains: its first unusual contract of the day (`OPTIONS_KINDS`). A NEW entrant
  of the daily options top 10 is not one: it is the day before's volume, announced whenever
  OCC's file is read (at start, in the demo), so its time says nothing of which came first.
- **Paired** when the two are at most `WINDOW_S` (two hours) apart; farther apart they are
  two unrelated events and no lead is told.

The times are those of momoscan's own signals (the market clock's Unix seconds), so a lead is
only as sharp as the looks that raised them: one quote interval (5 minutes in the session for
the stored prices) either way, and Cboe's chains are 15 minutes delayed. A lead says which of
the two signals a trader saw first, not that one caused the other.

Stdlib only: the screens and the headless output read `Lead.text`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

#: At most this many seconds between the two for them to count as one story.
WINDOW_S = 7200.0
#: A stored price at least this far from the previous close (percent, either way) is a run.
RUN_MOVE_PCT = 5.0
#: The signal kinds (`signals.SIGNAL_KINDS`) that are options activity.
OPTIONS_KINDS = ("unusual",)
#: The signal kind of a name that became options-led (for its track record).
LEAD_KIND = "lead"
OPTIONS = "options"
PRICE = "price"


def duration_text(seconds: float) -> str:
    """A gap as a trader reads it: "35m", "1h05", "0m" (rounded to the minute)."""
    minutes = round(abs(seconds) / 60.0)
    if minutes < 60:
        return f"{minutes}m"
    return f"{minutes // 60}h{minutes % 60:02d}"


@dataclass(frozen=True, slots=True)
class Lead:
    """Which came first for `symbol`: `first` is "options" or "price"; `gap_s` the seconds
    from the first to the second (>= 0); `options_at` and `price_at` the two signals' times
    (Unix seconds, market clock); `direction` the way the price ran (+1 up, -1 down)."""

    symbol: str
    first: str
    gap_s: float
    options_at: float
    price_at: float
    direction: int = 1

    @property
    def options_led(self) -> bool:
        return self.first == OPTIONS

    @property
    def at(self) -> float:
        """When the lead was known: the later of the two signals (Unix seconds)."""
        return max(self.options_at, self.price_at)

    @property
    def text(self) -> str:
        """The row's mark: "opt→px 35m" (options first) or "px→opt 12m"."""
        order = "opt→px" if self.options_led else "px→opt"
        return f"{order} {duration_text(self.gap_s)}"


def pair(
    options_at: Mapping[str, float],
    price_at: Mapping[str, tuple[float, int]],
    window: float = WINDOW_S,
) -> dict[str, Lead]:
    """The leads of names in both maps: `options_at` the first options signal's time per
    symbol, `price_at` the first price run's (time, direction). A tie is options-led (the
    options signal was there by the time the price was seen). Pairs more than `window`
    seconds apart are left out."""
    out: dict[str, Lead] = {}
    for symbol, opt in options_at.items():
        ran = price_at.get(symbol)
        if ran is None:
            continue
        px, direction = ran
        gap = px - opt
        if abs(gap) > window:
            continue
        first = OPTIONS if gap >= 0 else PRICE
        out[symbol] = Lead(symbol, first, abs(gap), opt, px, 1 if direction >= 0 else -1)
    return out
