"""Alert rules: each `[[alerts.rules]]` fires once per crossing, with hysteresis.

A rule holds for a symbol when all its conditions hold at once. An armed rule that holds fires
(an `AlertEvent`) and is disarmed; it re-arms only once one of its conditions is clearly false
again: past its threshold by the hysteresis band (`[alerts] rearm_pct` percent of the
threshold; percentage points for a % change), so a price hovering at the line fires once, not
at every tick. A condition whose value momoscan does not know (no quote of the latest session,
a chain not fetched) neither fires nor re-arms.

A rule with an event-like condition (`new_high`, `halt`, `resume`, `ssr`, `lead`:
`EVENT_CONDITIONS`) fires once per event instead: each new high of the day, each halt, each
resumption, each restriction, a name's options-led run once a day, while its other conditions
hold, and never for the same event twice. An event is
told while it is recent (`EVENT_FRESH`; a halt while it lasts, a restriction while in force),
so a cron job or a collector that takes over tells the events it has not told yet.
`pct_in_minutes` is a crossing like the others, with the hysteresis of a percent.

The state lives in the database (`alert_state`, with the event last fired for), and one
evaluation reads, decides and writes in one transaction: a cron job running `--once` every
five minutes fires once per crossing too, and the app and a cron job on one database never
fire the same crossing or event twice.

Stdlib and the store only: no Textual (the headless path runs this).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import date, datetime

from . import format as fmt
from . import market_hours as mh
from . import queries
from .config import EVENT_CONDITIONS, HALT_CONDITIONS, AlertRule, Threshold
from .halts import reason_text
from .lead import Lead
from .models import AlertEvent
from .queries import Observation
from .queries import lead as lead_queries
from .store import Store

log = logging.getLogger(__name__)

FIRE = "fire"
REARM = "rearm"

#: A new high of the day is told for this many market seconds after it is made (a cron
#: `--once` every five minutes tells those since the last run; a collector that starts late
#: does not tell the morning's).
EVENT_FRESH = 600.0
#: An options-led run is told for this many market seconds after it is known (its signals
#: are recorded by the outcome job, every five minutes of the market clock).
LEAD_FRESH = 1800.0


def speed(threshold: tuple[float, int], obs: Observation) -> float | None:
    """`pct_in_minutes` = (X, N)'s value: the percent from the lowest stored price of the
    last N minutes to the price now (X > 0), or from the highest (X < 0); None when either
    is unknown."""
    pct, minutes = threshold
    move = obs.moves.get(minutes)
    if move is None or obs.price is None:
        return None
    base = move.low if pct > 0 else move.high
    return (obs.price - base) / base * 100.0 if base > 0 else None


def _value(name: str, obs: Observation) -> float | bool | None:
    if name.startswith("price_"):
        return obs.price
    if name.startswith("pct_"):
        return obs.change_pct
    if name == "rvol_above":
        return obs.rvol
    if name == "options_share_above":
        return obs.options_share
    return obs.new_entrant


def _band(name: str, threshold: float, rearm_pct: float) -> float:
    """How far past its threshold a value must go back before the rule re-arms."""
    if name.startswith("pct_"):
        return rearm_pct  # percentage points
    return abs(threshold) * rearm_pct / 100.0


def holds(name: str, threshold: Threshold, obs: Observation) -> bool | None:
    """Whether the condition holds; None when its value is unknown. (An event-like
    condition holds by `event_key`, not here.)"""
    if isinstance(threshold, tuple):
        moved = speed(threshold, obs)
        if moved is None:
            return None
        return moved >= threshold[0] if threshold[0] > 0 else moved <= threshold[0]
    value = _value(name, obs)
    if value is None:
        return None
    if name == "new_options_entrant":
        return bool(value)
    assert isinstance(threshold, float) and isinstance(value, float | int)
    return value >= threshold if name.endswith("_above") else value <= threshold


def clearly_false(name: str, threshold: Threshold, obs: Observation, rearm_pct: float) -> bool:
    """Whether the value is past the threshold's hysteresis band, the other way."""
    if isinstance(threshold, tuple):
        # pct_in_minutes: percentage points, as the change's thresholds.
        moved = speed(threshold, obs)
        if moved is None:
            return False
        pct = threshold[0]
        return moved < pct - rearm_pct if pct > 0 else moved > pct + rearm_pct
    value = _value(name, obs)
    if value is None:
        return False
    if name == "new_options_entrant":
        return not value
    assert isinstance(threshold, float) and isinstance(value, float | int)
    band = _band(name, threshold, rearm_pct)
    return value < threshold - band if name.endswith("_above") else value > threshold + band


def decide(rule: AlertRule, obs: Observation, fired: bool, rearm_pct: float) -> str | None:
    """FIRE (armed, and every condition holds), REARM (fired, and a condition is clearly
    false), or None (no change)."""
    conditions = rule.conditions
    if not fired:
        return FIRE if all(holds(n, t, obs) for n, t in conditions) else None
    if any(clearly_false(n, t, obs, rearm_pct) for n, t in conditions):
        return REARM
    return None


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, mh.ET).date().isoformat()


def event_key(
    name: str, obs: Observation, now: float, leads: Mapping[str, Lead] | None = None
) -> str | None:
    """The event of the event-like condition `name` that `obs` shows at `now` (Unix seconds,
    market clock), as a key that sorts later events after earlier ones; None when there is
    none to tell: a new high older than `EVENT_FRESH` or not today's, a halt of before the
    previous trading day (the feed keeps years-old ones of delisted names), a resumption past
    `RECENT_RESUME`, a lead (`leads`: today's, by symbol) that is price-led or older than
    `LEAD_FRESH`."""
    if name == "lead":
        lead = (leads or {}).get(obs.symbol)
        if lead is None or not lead.options_led or now - lead.at > LEAD_FRESH:
            return None
        return f"{_day(lead.at)}#lead"
    if name == "new_high":
        high = obs.high
        if high is None or high.count <= 0 or now - high.at > EVENT_FRESH:
            return None
        return f"{_day(high.at)}#{high.count:06d}"
    if name == "ssr":
        return obs.ssr.trigger_day.isoformat() if obs.ssr is not None else None
    halt = obs.halt
    if halt is None:
        return None
    if name == "halt":
        today = mh.current_trading_day(datetime.fromtimestamp(now, mh.ET))
        if not halt.halted or _day(halt.halted_at) < mh.previous_trading_day(today).isoformat():
            return None
    elif halt.resumed_at is None:
        return None
    return f"{halt.halted_at:015.3f}"


def decide_event(
    rule: AlertRule,
    obs: Observation,
    last: str | None,
    now: float,
    leads: Mapping[str, Lead] | None = None,
) -> str | None:
    """For a rule with an event-like condition: the key of the event to fire for (one later
    than `last`, the event it last fired for, while every other condition holds), or None."""
    key = event_key(rule.event, obs, now, leads)
    if key is None or (last is not None and key <= last):
        return None
    others = [(n, t) for n, t in rule.conditions if n != rule.event]
    return key if all(holds(n, t, obs) for n, t in others) else None


def _money(value: float) -> str:
    """A threshold as the user wrote it: 200.00, 1,250.50, 0.5."""
    return f"{value:,.2f}" if value >= 1 else f"{value:g}"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _clock(ts: float, day: date | None) -> str:
    """`ts` (Unix seconds) as US/Eastern "10:01 ET", with its date when not `day`."""
    at = datetime.fromtimestamp(ts, mh.ET)
    when = at.strftime("%H:%M")
    return f"{when} ET" if day is None or at.date() == day else f"{at:%b} {at.day} {when} ET"


def _happened(
    name: str,
    threshold: Threshold,
    obs: Observation,
    day: date | None,
    leads: Mapping[str, Lead] | None = None,
) -> str:
    """What an event-like or speed condition says happened, as a predicate of the symbol."""
    if name == "lead":
        lead = (leads or {}).get(obs.symbol)
        if lead is None:
            return "ran in price after its options activity"
        return (
            f"ran in price after its options activity ({lead.text}: options "
            f"{_clock(lead.options_at, day)}, price {_clock(lead.price_at, day)})"
        )
    if isinstance(threshold, tuple):
        pct, minutes = threshold
        move = obs.moves.get(minutes)
        moved = speed(threshold, obs)
        if move is None or moved is None or obs.price is None:
            return f"moved {pct:+g}% in {minutes} min"
        base, at = (move.low, move.low_at) if pct > 0 else (move.high, move.high_at)
        return (
            f"{'up' if moved >= 0 else 'down'} {abs(moved):.1f}% in {minutes} min, to "
            f"${fmt.price(obs.price)} (from ${fmt.price(base)} at {_clock(at, day)})"
        )
    if name == "new_high":
        high = obs.high
        if high is None:
            return "made a new high of the day"
        return (
            f"new high of the day ${fmt.price(high.high)} at {_clock(high.at, day)} "
            f"({_ordinal(high.count)} today)"
        )
    if name == "ssr":
        ssr = obs.ssr
        if ssr is None:
            return "short sale restricted (Rule 201)"
        since = (
            _clock(ssr.triggered_at, day)
            if ssr.triggered_at is not None
            else f"{ssr.trigger_day:%b} {ssr.trigger_day.day}"
        )
        through = "" if ssr.trigger_day == day else " (through today)"
        return f"short sale restricted (Rule 201) since {since}{through}"
    halt = obs.halt
    if halt is None:
        return "halted" if name == "halt" else "resumed"
    why = f"{reason_text(halt.reason)} ({halt.reason})"
    if name == "halt":
        resumes = (
            f"resumes {_clock(halt.resume_trade_at, day)}"
            if halt.resume_trade_at is not None
            else "no resumption announced yet"
        )
        return f"halted {_clock(halt.halted_at, day)}: {why}, {resumes}"
    resumed = halt.resumed_at if halt.resumed_at is not None else halt.halted_at
    return f"resumed {_clock(resumed, day)} after a halt at {_clock(halt.halted_at, day)}: {why}"


def describe(
    rule: AlertRule,
    obs: Observation,
    now: float | None = None,
    leads: Mapping[str, Lead] | None = None,
) -> str:
    """One sentence: what crossed, with the values (`now`: the market clock, Unix seconds;
    times of another day than its get their date).

    `NVDA at $201.35 (+3.20%): price ≥ $200.00.`, `ZM at $90.63 (+9.36%): change ≥ +8%,
    RVol 2.1x ≥ 2x.`, `SPX: options share 31.0% ≥ 25%.`; an event or a speed leads:
    `NVDA halted 10:01 ET: LULD pause (LUDP), resumes 10:06 ET.`, `AAPL up 5.2% in 10 min,
    to $196.83 (from $187.10 at 09:55 ET).`, `TSLA new high of the day $251.30 at 10:02 ET
    (3rd today); at $251.30 (+6.10%): change ≥ +5%.`
    """
    day = mh.current_trading_day(datetime.fromtimestamp(now, mh.ET)) if now else None
    said = []
    parts = []
    for name, threshold in rule.conditions:
        if name in EVENT_CONDITIONS or name == "pct_in_minutes":
            said.append(_happened(name, threshold, obs, day, leads))
        elif name == "price_above":
            parts.append(f"price ≥ ${_money(float(threshold))}")  # type: ignore[arg-type]
        elif name == "price_below":
            parts.append(f"price ≤ ${_money(float(threshold))}")  # type: ignore[arg-type]
        elif name == "pct_above":
            parts.append(f"change ≥ {float(threshold):+g}%")  # type: ignore[arg-type]
        elif name == "pct_below":
            parts.append(f"change ≤ {float(threshold):+g}%")  # type: ignore[arg-type]
        elif name == "rvol_above":
            parts.append(f"RVol {fmt.ratio(obs.rvol)} ≥ {threshold:g}x")
        elif name == "options_share_above":
            parts.append(f"options share {obs.options_share or 0.0:.1f}% ≥ {threshold:g}%")
        else:
            rank = f" (#{obs.leader_rank})" if obs.leader_rank else ""
            parts.append(f"new in the daily options top 10{rank}")
    where = ""
    if obs.price is not None:
        where = f" at ${fmt.price(obs.price)}"
        if obs.change_pct is not None:
            where += f" ({fmt.pct(obs.change_pct)})"
    if not said:
        return f"{obs.symbol}{where}: {', '.join(parts)}."
    lead = f"{obs.symbol} {', '.join(said)}"
    if not parts:
        return f"{lead}."
    return f"{lead};{where}: {', '.join(parts)}." if where else f"{lead}; {', '.join(parts)}."


def evaluate(
    store: Store,
    rules: Sequence[AlertRule],
    *,
    tiers: Sequence[str],
    min_price: float,
    rearm_pct: float,
    now: float,
    symbols: Sequence[str] | None = None,
) -> list[AlertEvent]:
    """Evaluate `rules` against what the store holds now and record what fired, in one
    transaction. Runs on the store's thread (`StoreThread.call`).

    Args:
        now: the market clock (Unix seconds): the events' time and trading day.
        symbols: only these (the names the price stream just moved); None: all.

    Returns:
        The alerts that fired, in rule order.
    """
    if not rules:
        return []
    day = mh.current_trading_day(datetime.fromtimestamp(now, mh.ET))
    conditions = {n for r in rules for n, _ in r.conditions}
    windows = {t[1] for r in rules for _, t in r.conditions if isinstance(t, tuple)}
    events: list[AlertEvent] = []
    with store.transaction():
        crossing = [r.key for r in rules if not r.event]
        fired = store.alert_states(crossing) if crossing else set()
        told = store.alert_event_keys([r.key for r in rules if r.event])
        pinned = [r.symbol for r in rules if r.symbol]
        every = len(pinned) < len(rules)
        wanted = (
            list(symbols) if symbols is not None else None if every else list(dict.fromkeys(pinned))
        )

        def observe(names: Sequence[str] | None) -> dict[str, Observation]:
            return queries.alert_observations(
                store,
                names,
                tiers=tiers,
                min_price=min_price,
                now=now,
                highs="new_high" in conditions,
                halts=bool(conditions & set(HALT_CONDITIONS)),
                windows=windows,
            )

        observed = observe(wanted)
        leads = lead_queries.leads(store, day) if "lead" in conditions else {}
        if symbols is None:
            # A pinned symbol outside the scan's filters, and a symbol a rule fired for that
            # has left them since (under the price floor, say): looked at too, so that the
            # one can fire and the other re-arm.
            missing = [
                s for s in dict.fromkeys([*pinned, *(s for _, s in fired)]) if s not in observed
            ]
            if missing:
                observed.update(observe(missing))
        rows = []
        rearmed = []
        marked = []
        for rule in rules:
            for symbol, obs in observed.items():
                is_fired = (rule.key, symbol) in fired
                if rule.symbol != symbol and (rule.symbol or not (obs.in_scan or is_fired)):
                    continue
                if rule.event:
                    key = decide_event(rule, obs, told.get((rule.key, symbol)), now, leads)
                    if key is None:
                        continue
                    told[(rule.key, symbol)] = key
                    marked.append((key, rule.key, symbol))
                else:
                    verdict = decide(rule, obs, is_fired, rearm_pct)
                    if verdict == REARM:
                        rearmed.append((rule.key, symbol))
                    if verdict != FIRE:
                        continue
                    fired.add((rule.key, symbol))
                event = AlertEvent(
                    rule=rule.key,
                    name=rule.name,
                    symbol=symbol,
                    message=describe(rule, obs, now, leads),
                    at=now,
                    day=day,
                    price=obs.price,
                    change_pct=obs.change_pct,
                    rvol=obs.rvol,
                    options_share=obs.options_share,
                )
                events.append(event)
                rows.append(
                    (
                        day.isoformat(),
                        event.rule,
                        event.name,
                        symbol,
                        now,
                        event.message,
                        obs.price,
                        obs.change_pct,
                        obs.rvol,
                        obs.options_share,
                    )
                )
        if rows or rearmed:
            store.record_alerts(rows, rearmed)
            store.set_alert_events(marked)
    return events
