"""Signals and their track records: what momoscan raised, when, at what price and which way,
what followed (`Outcome`), and each kind's record over the user's history (`Record`, `badge`).

- **Signal.** One thing momoscan raised for a symbol at a moment (the market clock's Unix
  seconds): a name entering a board, a NEW options entrant, a gapper, an alert rule, a first
  unusual contract of the day, a halt, a resumption, an SEC filing. Its `direction` is the way
  it points: +1 up, -1 down (see `engine/outcomes.py` for how each kind's is decided). Kept
  once per (kind, symbol, at).
- **Outcome.** The move from the signal's price, in its direction (percent: +3.0 is a 3% move
  the way the signal pointed, whichever way that is), to each horizon of `HORIZONS`, and the
  best and worst move in between (`EXTREMES`), each with the age of the price it used.
  A horizon is "pending" until its time has passed, then "measured" or "unmeasured" (no
  price after it was stored): an unmeasured one is never counted.
- **Record.** A kind's figures over every measured signal: how many, how many moved at least
  `move_pct` percent their way by the close, the median and the worst move.

Stdlib only: the screens, the headless output and the store all build on these.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

#: The signal kinds momoscan raises itself, with the words that say them. Alert rules add a
#: kind each: "rule:" and their conditions (`rule_kind`).
SIGNAL_KINDS: dict[str, str] = {
    "movers": "entered the top movers",
    "volume": "entered the top volume",
    "options_new": "new in the daily options top 10",
    "gapper": "a top pre-market gapper",
    "unusual": "first unusual option contract of the day",
    "halt": "trading halted",
    "resume": "trading resumed after a halt",
    "catalyst": "an SEC filing (results, material event, news, ownership, insider)",
    "offering": "an SEC offering filing (S-1, 424B, ...)",
    "lead": "options activity led the price (opt→px)",
}

#: The short label a badge starts with.
SHORT: dict[str, str] = {
    "movers": "TOP",
    "volume": "VOL",
    "options_new": "NEW",
    "gapper": "GAP",
    "unusual": "UNUSUAL",
    "halt": "HALT",
    "resume": "RESUME",
    "catalyst": "SEC",
    "offering": "OFFERING",
    "lead": "LEAD",
}

#: Alert rule conditions (config.CONDITIONS): their short labels and words.
RULE_CONDITIONS: dict[str, tuple[str, str]] = {
    "price_above": ("PRICE≥", "price at or above"),
    "price_below": ("PRICE≤", "price at or below"),
    "pct_above": ("CHG≥", "change at or above"),
    "pct_below": ("CHG≤", "change at or below"),
    "rvol_above": ("RVOL", "relative volume at or above"),
    "options_share_above": ("OPT%", "options share at or above"),
    "new_options_entrant": ("NEW", "new options entrant"),
    "new_high": ("HOD", "new high of the day"),
    "pct_in_minutes": ("SPEED", "moved X% in N minutes"),
    "halt": ("HALT", "halt"),
    "resume": ("RESUME", "resumption"),
    "ssr": ("SSR", "short sale restriction"),
}
RULE_PREFIX = "rule:"

#: The scanner's boards as `entrants.py` names them in `alert_events`, and their kinds.
SCANNER_NAMES: dict[str, str] = {
    "Top movers": "movers",
    "Top volume": "volume",
    "Options top 10": "options_new",
}

#: The horizons a signal is measured at: 15 minutes, an hour, the first regular close after
#: it, and the close of the session after that.
HORIZONS = ("15m", "1h", "close", "next_close")
#: The best and worst move between the signal and the close (favourable and adverse).
EXTREMES = ("best", "worst")
HORIZON_WORDS = {
    "15m": "+15 min",
    "1h": "+1 h",
    "close": "close",
    "next_close": "next close",
    "best": "best to close",
    "worst": "worst to close",
}

PENDING = "pending"
MEASURED = "measured"
UNMEASURED = "unmeasured"


@dataclass(frozen=True, slots=True)
class Signal:
    """One signal. `at` and `price_at` are the market clock's Unix seconds (the signal's
    moment, and when its price was seen); `price` dollars (None: no price was stored near it,
    and it cannot be measured); `direction` +1 or -1; `day` the trading day (US/Eastern);
    `source` where it was found ("alert_events", "halts", "filings", ...); `detail` a few
    words (a rule's name, a contract, a form); `id` the store's, None before it is stored."""

    kind: str
    symbol: str
    at: float
    day: date
    price: float | None
    direction: int
    price_at: float | None = None
    source: str = ""
    detail: str = ""
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What followed a signal at one horizon (`HORIZONS` or `EXTREMES`).

    `move_pct` the move from the signal's price in its direction, percent (None unless
    measured); `price` (dollars) and `price_at` (Unix seconds, the start of the stored 5-minute
    bucket it came from) of the price used; `age` seconds between the horizon's time and that
    price (for an extreme: the longest gap between two prices used, how coarse the path was);
    `status` `PENDING`, `MEASURED` or `UNMEASURED`."""

    signal_id: int
    horizon: str
    status: str
    move_pct: float | None = None
    price: float | None = None
    price_at: float | None = None
    age: float | None = None


@dataclass(frozen=True, slots=True)
class HorizonStats:
    """One horizon's figures over a kind's measured signals: `count` measured, `hits` that
    moved at least the record's `move_pct` their way, `median`/`worst`/`best` moves
    (percent, None when none is measured)."""

    horizon: str
    count: int
    hits: int
    median: float | None
    worst: float | None
    best: float | None

    @property
    def share(self) -> float | None:
        """hits / count (0..1), None when nothing is measured."""
        return self.hits / self.count if self.count else None


@dataclass(frozen=True, slots=True)
class Record:
    """A signal kind's track record. `count`, `hits`, `median` and `worst` are those of the
    close (`HORIZONS`' "close"); `move_pct` the threshold a hit is judged on (percent);
    `signals` how many were raised in all, `unmeasured` how many could not be measured at
    the close and `pending` how many wait for it; `moves` every measured move to the close
    (percent, ascending: for a distribution plot); `horizons` every horizon's figures."""

    kind: str
    move_pct: float
    count: int
    hits: int
    median: float | None
    worst: float | None
    signals: int = 0
    unmeasured: int = 0
    pending: int = 0
    moves: tuple[float, ...] = ()
    horizons: dict[str, HorizonStats] = field(default_factory=dict)

    @property
    def share(self) -> float | None:
        return self.hits / self.count if self.count else None


def horizon_stats(horizon: str, moves: Sequence[float], move_pct: float) -> HorizonStats:
    """Figures of one horizon's measured moves (percent)."""
    if not moves:
        return HorizonStats(horizon, 0, 0, None, None, None)
    return HorizonStats(
        horizon,
        len(moves),
        sum(1 for m in moves if m >= move_pct),
        statistics.median(moves),
        min(moves),
        max(moves),
    )


def rule_kind(conditions: Sequence[str]) -> str:
    """An alert rule's signal kind: "rule:" and its condition names in config order joined
    by "+" ("rule:pct_above+rvol_above"). Unknown names are kept as they are."""
    order = list(RULE_CONDITIONS)
    known = sorted(set(conditions), key=lambda n: (order.index(n) if n in order else 99, n))
    return RULE_PREFIX + "+".join(known)


def rule_conditions(rule_key: str) -> list[tuple[str, str]]:
    """The (condition, value as written) pairs of an alert rule's key (`AlertRule.key`:
    "symbol=*;pct_above=5.0;pct_in_minutes=(5.0, 10)")."""
    out = []
    for part in rule_key.split(";")[1:]:
        name, _, value = part.partition("=")
        if name:
            out.append((name, value))
    return out


def kind_of_event(rule: str, name: str) -> str:
    """The signal kind of a stored alert event: the scanner's boards by their `name`
    (`SCANNER_NAMES`), a rule by its key's conditions."""
    if rule == "scanner":
        return SCANNER_NAMES.get(name, "scanner")
    return rule_kind([n for n, _ in rule_conditions(rule)])


def short_label(kind: str) -> str:
    """A badge's first word: "NEW", "TOP", "HOD", "CHG≥+RVOL"."""
    if kind.startswith(RULE_PREFIX):
        names = kind[len(RULE_PREFIX) :].split("+")
        return "+".join(RULE_CONDITIONS.get(n, (n.upper(), ""))[0] for n in names)
    return SHORT.get(kind, kind.upper())


def kind_words(kind: str) -> str:
    """What a kind means, in words ("alert rule: new high of the day + ...")."""
    if kind.startswith(RULE_PREFIX):
        names = kind[len(RULE_PREFIX) :].split("+")
        return "alert rule: " + " + ".join(RULE_CONDITIONS.get(n, ("", n))[1] for n in names)
    return SIGNAL_KINDS.get(kind, kind)


def badge(record: Record | None, min_sample: int) -> str | None:
    """The short record shown beside a signal: "NEW · 9/21 ≥5% by close" (hits / measured
    signals that moved at least `move_pct` their way by the close), the sample size always
    shown; None below `min_sample` measured signals."""
    if record is None or record.count < max(1, min_sample):
        return None
    return (
        f"{short_label(record.kind)} · {record.hits}/{record.count} ≥{record.move_pct:g}% by close"
    )


def directed_move(price: float, then: float, direction: int) -> float:
    """The move from `price` to `then` in `direction`, percent (+ is the signal's way)."""
    return (then - price) / price * 100.0 * (1 if direction >= 0 else -1)
