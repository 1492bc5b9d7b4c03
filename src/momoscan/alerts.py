"""Alert rules: each `[[alerts.rules]]` fires once per crossing, with hysteresis.

A rule holds for a symbol when all its conditions hold at once. An armed rule that holds fires
(an `AlertEvent`) and is disarmed; it re-arms only once one of its conditions is clearly false
again: past its threshold by the hysteresis band (`[alerts] rearm_pct` percent of the
threshold; percentage points for a % change), so a price hovering at the line fires once, not
at every tick. A condition whose value momoscan does not know (no quote of the latest session,
a chain not fetched) neither fires nor re-arms.

The state lives in the database (`alert_state`), and one evaluation reads, decides and writes
in one transaction: a cron job running `--once` every five minutes fires once per crossing
too, and the app and a cron job on one database never fire the same crossing twice.

Stdlib and the store only: no Textual (the headless path runs this).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from . import format as fmt
from . import market_hours as mh
from . import queries
from .config import AlertRule
from .models import AlertEvent
from .queries import Observation
from .store import Store

log = logging.getLogger(__name__)

FIRE = "fire"
REARM = "rearm"


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


def holds(name: str, threshold: float | bool, obs: Observation) -> bool | None:
    """Whether the condition holds; None when its value is unknown."""
    value = _value(name, obs)
    if value is None:
        return None
    if name == "new_options_entrant":
        return bool(value)
    assert isinstance(threshold, float) and isinstance(value, float | int)
    return value >= threshold if name.endswith("_above") else value <= threshold


def clearly_false(name: str, threshold: float | bool, obs: Observation, rearm_pct: float) -> bool:
    """Whether the value is past the threshold's hysteresis band, the other way."""
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


def _money(value: float) -> str:
    """A threshold as the user wrote it: 200.00, 1,250.50, 0.5."""
    return f"{value:,.2f}" if value >= 1 else f"{value:g}"


def describe(rule: AlertRule, obs: Observation) -> str:
    """One sentence: what crossed, with the values.

    `NVDA at $201.35 (+3.20%): price ≥ $200.00.`, `ZM at $90.63 (+9.36%): change ≥ +8%,
    RVol 2.1x ≥ 2x.`, `SPX: options share 31.0% ≥ 25%.`
    """
    parts = []
    for name, threshold in rule.conditions:
        if name == "price_above":
            parts.append(f"price ≥ ${_money(float(threshold))}")
        elif name == "price_below":
            parts.append(f"price ≤ ${_money(float(threshold))}")
        elif name == "pct_above":
            parts.append(f"change ≥ {float(threshold):+g}%")
        elif name == "pct_below":
            parts.append(f"change ≤ {float(threshold):+g}%")
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
    return f"{obs.symbol}{where}: {', '.join(parts)}."


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
    events: list[AlertEvent] = []
    with store.transaction():
        fired = store.alert_states([r.key for r in rules])
        pinned = [r.symbol for r in rules if r.symbol]
        every = len(pinned) < len(rules)
        wanted = (
            list(symbols) if symbols is not None else None if every else list(dict.fromkeys(pinned))
        )
        observed = queries.alert_observations(
            store, wanted, tiers=tiers, min_price=min_price, now=now
        )
        if symbols is None:
            # A pinned symbol outside the scan's filters, and a symbol a rule fired for that
            # has left them since (under the price floor, say): looked at too, so that the
            # one can fire and the other re-arm.
            missing = [
                s for s in dict.fromkeys([*pinned, *(s for _, s in fired)]) if s not in observed
            ]
            if missing:
                observed.update(
                    queries.alert_observations(
                        store, missing, tiers=tiers, min_price=min_price, now=now
                    )
                )
        rows = []
        rearmed = []
        for rule in rules:
            for symbol, obs in observed.items():
                is_fired = (rule.key, symbol) in fired
                if rule.symbol != symbol and (rule.symbol or not (obs.in_scan or is_fired)):
                    continue
                verdict = decide(rule, obs, is_fired, rearm_pct)
                if verdict == REARM:
                    rearmed.append((rule.key, symbol))
                elif verdict == FIRE:
                    fired.add((rule.key, symbol))
                    event = AlertEvent(
                        rule=rule.key,
                        name=rule.name,
                        symbol=symbol,
                        message=describe(rule, obs),
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
    return events
