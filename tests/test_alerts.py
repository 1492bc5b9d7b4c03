"""Alert rules: config errors naming file, key and line; firing once per crossing with
hysteresis, kept in the database across runs and processes; the headless line, JSON and exit
code; desktop notifications that fail quietly."""

from __future__ import annotations

import json
import logging
import re
from datetime import date, datetime
from pathlib import Path

import pytest

from momoscan import alerts, notify
from momoscan import market_hours as mh
from momoscan.cli import EXIT_ALERT, main
from momoscan.config import AlertRule, ConfigError, parse_settings, rule_docs
from momoscan.models import AlertEvent, Leader, Quote, Ticker, UnderlyingVolume
from momoscan.queries import Observation, alerts_on
from momoscan.store import Store

ROOT = Path(__file__).resolve().parents[1]
DAY = date(2026, 11, 20)
#: 11:30 ET on DAY, the market clock of these tests.
NOW = datetime(2026, 11, 20, 11, 30, tzinfo=mh.ET).timestamp()

TICKERS = [
    Ticker("AAA", "Alpha Inc", "NASDAQ", "XNGS", "small"),
    Ticker("BBB", "Beta Corp", "NYSE", "XNYS", "mid"),
    Ticker("MEGA", "Mega Corp", "NYSE", "XNYS", "mega"),
    Ticker("PNY", "Penny Co", "NASDAQ", "XNCM", "small"),
]
TIERS = ["small", "mid", "large"]


# ---------------------------------------------------------------------------------------------
# Config


def rules_of(text: str) -> list[AlertRule]:
    return parse_settings(text).alerts.rules


def test_rules_are_parsed_with_their_symbols_in_momoscan_spelling() -> None:
    rules = rules_of(
        "[alerts]\nrearm_pct = 2\n\n"
        '[[alerts.rules]]\nname = "Berkshire"\nsymbol = "brk-b"\nprice_above = 500\n\n'
        "[[alerts.rules]]\npct_above = 20\nrvol_above = 5\n\n"
        '[[alerts.rules]]\nsymbol = "^SPX"\noptions_share_above = 30\n'
    )
    assert [r.symbol for r in rules] == ["BRK.B", "", "SPX"]
    assert rules[0].conditions == [("price_above", 500.0)]
    assert rules[1].conditions == [("pct_above", 20.0), ("rvol_above", 5.0)]
    assert rules[1].key == "symbol=*;pct_above=20.0;rvol_above=5.0"
    # A renamed rule keeps its state; a changed one starts afresh.
    assert (
        AlertRule(name="x", symbol="A", pct_above=1.0).key
        == AlertRule(symbol="A", pct_above=1.0).key
    )
    assert AlertRule(symbol="A", pct_above=1.0).key != AlertRule(symbol="A", pct_above=2.0).key


def test_the_new_rule_kinds_are_parsed() -> None:
    (speed, hod, halt) = rules_of(
        "[[alerts.rules]]\npct_in_minutes = [-5, 15.0]\n\n"
        "[[alerts.rules]]\nnew_high = true\nrvol_above = 3\n\n"
        '[[alerts.rules]]\nsymbol = "NVDA"\nhalt = true\n'
    )
    assert speed.conditions == [("pct_in_minutes", (-5.0, 15))] and speed.event == ""
    assert speed.key == "symbol=*;pct_in_minutes=(-5.0, 15)"
    assert hod.conditions == [("rvol_above", 3.0), ("new_high", True)] and hod.event == "new_high"
    assert halt.event == "halt" and halt.symbol == "NVDA"


@pytest.mark.parametrize(
    ("text", "line", "key", "words"),
    [
        (
            '[[alerts.rules]]\nsymbol = "AMD"\nprice_above = 1\n\n'
            "[[alerts.rules]]\npct_above = 20\nrvol_abve = 5\n",
            7,
            "[[alerts.rules]] rvol_abve",
            "unknown key (did you mean 'rvol_above'?)",
        ),
        (
            '[[alerts.rules]]\nsymbol = "AMD"\npct_above = "ten"\n',
            3,
            "[[alerts.rules]] pct_above",
            "must be a number, not 'ten'",
        ),
        (
            '[[alerts.rules]]\nsymbol = "EUR/USD"\nprice_above = 1\n',
            2,
            "[[alerts.rules]] symbol",
            "momoscan cannot watch it",
        ),
        (
            '# my rules\n[[alerts.rules]]\nsymbol = "AMD"\n',
            2,
            "[[alerts.rules]]",
            "needs a condition: one of price_above",
        ),
        (
            '[[alerts.rules]]\nsymbol = "AMD"\nprice_above = 120\nprice_below = 100\n',
            4,
            "[[alerts.rules]] price_below",
            "can never hold at once",
        ),
        (
            '[[alerts.rules]]\nsymbol = "$SPX"\nprice_above = 6000\n',
            3,
            "[[alerts.rules]] price_above",
            "SPX is an index",
        ),
        (
            "[[alerts.rules]]\noptions_share_above = 150\n",
            2,
            "[[alerts.rules]] options_share_above",
            "at most 100",
        ),
        (
            "[[alerts.rules]]\nnew_options_entrant = 1\n",
            2,
            "[[alerts.rules]] new_options_entrant",
            "must be true or false",
        ),
        (
            '[alerts]\nbell = true\nrules = [{symbol = "AMD", rvol_above = -1}]\n',
            3,
            "[[alerts.rules]] rvol_above",
            "must be greater than 0",
        ),
        (
            "[alerts]\nrules = 5\n",
            2,
            "[alerts] rules",
            "must be tables",
        ),
        (
            "[[alerts.rules]]\npct_in_minutes = 5\n",
            2,
            "[[alerts.rules]] pct_in_minutes",
            "must be [percent, minutes] such as [5, 10], not 5",
        ),
        (
            "[[alerts.rules]]\npct_in_minutes = [5, 2]\n",
            2,
            "[[alerts.rules]] pct_in_minutes",
            "the minutes must be a whole number from 5 to 960",
        ),
        (
            "[[alerts.rules]]\npct_in_minutes = [0, 10]\n",
            2,
            "[[alerts.rules]] pct_in_minutes",
            "the percent must be a number other than 0",
        ),
        (
            "[[alerts.rules]]\nhalt = 'yes'\n",
            2,
            "[[alerts.rules]] halt",
            "must be true or false, not 'yes'",
        ),
        (
            "[[alerts.rules]]\nhalt = true\nresume = true\n",
            3,
            "[[alerts.rules]] resume",
            "halt and resume are different events",
        ),
    ],
)
def test_a_bad_rule_is_one_line_naming_file_key_and_line(
    tmp_path: Path, text: str, line: int, key: str, words: str
) -> None:
    path = tmp_path / "config.toml"
    with pytest.raises(ConfigError) as info:
        parse_settings(text, path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: {key}: "), message
    assert words in message and "\n" not in message


def test_cli_exits_2_on_a_bad_rule_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[[alerts.rules]]\nsymbol = 'AMD'\nprice_abov = 3\n")
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "momoscan", "--config", str(path), "--once"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"momoscan: config error: {path}:3: [[alerts.rules]] price_abov: unknown key "
        "(did you mean 'price_above'?)"
    ]


def test_the_example_config_shows_a_rule_that_parses() -> None:
    text = (ROOT / "config.toml.example").read_text()
    block = re.findall(r"^#   (\[\[alerts\.rules\]\]|\w+ = .+)$", text, re.M)
    rules = rules_of("\n".join(block))
    assert [r.name for r in rules] == ["NVDA breakout", "Runner"]


def test_the_readme_documents_every_rule_key() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [key for key in rule_docs() if f"| `{key}` |" not in readme]
    assert not missing, f"[[alerts.rules]] keys missing from README.md: {missing}"


# ---------------------------------------------------------------------------------------------
# Deciding


def obs(**values: object) -> Observation:
    return Observation("AAA", **values)  # type: ignore[arg-type]


def test_a_price_hovering_at_the_line_fires_once() -> None:
    rule = AlertRule(symbol="AAA", price_above=100.0)
    fired = False
    verdicts = []
    # 1% hysteresis: re-armed only under 99.
    for price in (98.0, 100.0, 99.5, 100.2, 99.1, 101.0, 98.9, 100.0):
        verdict = alerts.decide(rule, obs(price=price), fired, rearm_pct=1.0)
        verdicts.append(verdict)
        if verdict == alerts.FIRE:
            fired = True
        elif verdict == alerts.REARM:
            fired = False
    assert verdicts == [None, "fire", None, None, None, None, "rearm", "fire"]


def test_percent_thresholds_rearm_in_percentage_points() -> None:
    rule = AlertRule(pct_below=-5.0)
    assert alerts.decide(rule, obs(change_pct=-5.0), False, 1.0) == alerts.FIRE
    assert alerts.decide(rule, obs(change_pct=-4.1), True, 1.0) is None
    assert alerts.decide(rule, obs(change_pct=-3.9), True, 1.0) == alerts.REARM


def test_all_conditions_must_hold_and_an_unknown_value_never_fires_nor_rearms() -> None:
    rule = AlertRule(pct_above=10.0, rvol_above=3.0)
    assert alerts.decide(rule, obs(change_pct=12.0, rvol=2.0), False, 1.0) is None
    assert alerts.decide(rule, obs(change_pct=12.0, rvol=3.5), False, 1.0) == alerts.FIRE
    assert alerts.decide(rule, obs(change_pct=12.0), False, 1.0) is None
    assert alerts.decide(rule, obs(), True, 1.0) is None
    # One condition clearly false is enough to re-arm.
    assert alerts.decide(rule, obs(change_pct=12.0, rvol=2.0), True, 1.0) == alerts.REARM


def test_the_message_says_what_crossed_with_the_values() -> None:
    rule = AlertRule(pct_above=8.0, rvol_above=2.0)
    text = alerts.describe(rule, obs(price=90.63, change_pct=9.36, rvol=2.14))
    assert text == "AAA at $90.63 (+9.36%): change ≥ +8%, RVol 2.1x ≥ 2x."
    share = AlertRule(symbol="SPX", options_share_above=25.0, new_options_entrant=True)
    assert alerts.describe(
        share, Observation("SPX", options_share=31.04, new_entrant=True, leader_rank=3)
    ) == ("SPX: options share 31.0% ≥ 25%, new in the daily options top 10 (#3).")


# ---------------------------------------------------------------------------------------------
# Evaluating over the store


def quote(symbol: str, price: float, change: float, rvol: float = 1.0, ts: float = NOW) -> Quote:
    return Quote(
        symbol,
        price,
        prev_close=price / (1 + change / 100),
        change_pct=change,
        volume=int(rvol * 1000),
        avg_volume=1000,
        market_open=True,
        quote_ts=int(ts),
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "a.db"
    with Store(path) as store:
        store.replace_universe(TICKERS, source="test", as_of=DAY, fetched_at=NOW)
    return path


def evaluate(path: Path, rules: list[AlertRule], **kwargs: object) -> list[AlertEvent]:
    """One evaluation on a connection of its own, as a separate run would make."""
    with Store(path) as store:
        return alerts.evaluate(
            store,
            rules,
            tiers=TIERS,
            min_price=1.0,
            rearm_pct=1.0,
            now=kwargs.pop("now", NOW),  # type: ignore[arg-type]
            **kwargs,  # type: ignore[arg-type]
        )


def put(path: Path, *quotes: Quote) -> None:
    with Store(path) as store:
        store.store_quotes(list(quotes), fetched_at=NOW)


def test_a_rule_fires_once_per_crossing_across_runs(db: Path) -> None:
    rule = AlertRule(name="Alpha breakout", symbol="AAA", price_above=10.0)
    put(db, quote("AAA", 9.0, 1.0))
    assert evaluate(db, [rule]) == []
    put(db, quote("AAA", 10.5, 2.0))
    (event,) = evaluate(db, [rule])
    assert (event.symbol, event.name, event.price, event.day) == (
        "AAA",
        "Alpha breakout",
        10.5,
        DAY,
    )
    assert event.message == "AAA at $10.50 (+2.00%): price ≥ $10.00."
    # Every later run (a cron job's --once, say) sees the state: no second alert while above,
    # nor while back inside the band (9.9 and more).
    for price in (11.0, 9.95, 10.2):
        put(db, quote("AAA", price, 2.0))
        assert evaluate(db, [rule]) == []
    put(db, quote("AAA", 9.8, 1.0))
    assert evaluate(db, [rule]) == []  # re-armed
    put(db, quote("AAA", 10.1, 1.5))
    assert [e.symbol for e in evaluate(db, [rule])] == ["AAA"]
    with Store(db) as store:
        today = alerts_on(store, DAY)
    assert [(e.symbol, e.price) for e in today] == [("AAA", 10.1), ("AAA", 10.5)]


def test_a_demo_restart_forgets_the_alerts_of_a_later_clock(db: Path) -> None:
    """A simulated clock started again from an earlier time: what fired later is gone, and
    the rule is armed again, so the replayed crossing fires again."""
    rule = AlertRule(symbol="AAA", price_above=10.0)
    put(db, quote("AAA", 10.5, 2.0))
    assert len(evaluate(db, [rule])) == 1
    with Store(db) as store:
        store.forget_after(NOW - 60, DAY)
        assert alerts_on(store, DAY) == []
        assert store.alert_states([rule.key]) == set()
    put(db, quote("AAA", 10.5, 2.0))
    assert len(evaluate(db, [rule])) == 1


def test_two_processes_on_one_database_fire_a_crossing_once(db: Path) -> None:
    rule = AlertRule(symbol="AAA", pct_above=5.0)
    put(db, quote("AAA", 12.0, 6.0))
    with Store(db) as app, Store(db) as cron:
        first = alerts.evaluate(app, [rule], tiers=TIERS, min_price=1, rearm_pct=1, now=NOW)
        second = alerts.evaluate(cron, [rule], tiers=TIERS, min_price=1, rearm_pct=1, now=NOW)
    assert len(first) == 1 and second == []


def test_a_rule_without_a_symbol_looks_at_the_scan_and_rearms_names_that_left_it(
    db: Path,
) -> None:
    rule = AlertRule(pct_above=10.0)
    put(
        db,
        quote("AAA", 5.0, 12.0),
        quote("BBB", 50.0, 15.0),
        quote("MEGA", 500.0, 20.0),  # outside the cap tiers
        quote("PNY", 0.5, 30.0),  # under the price floor
    )
    assert sorted(e.symbol for e in evaluate(db, [rule])) == ["AAA", "BBB"]
    # AAA falls under the floor and back, its move gone: re-armed though outside the scan.
    put(db, quote("AAA", 0.9, 1.0))
    assert evaluate(db, [rule]) == []
    put(db, quote("AAA", 5.0, 12.0))
    assert [e.symbol for e in evaluate(db, [rule])] == ["AAA"]


def test_a_pinned_symbol_fires_outside_the_scan_filters(db: Path) -> None:
    put(db, quote("MEGA", 500.0, 3.0))
    assert [e.symbol for e in evaluate(db, [AlertRule(symbol="MEGA", pct_above=2.0)])] == ["MEGA"]


def test_a_quote_from_an_earlier_session_never_fires(db: Path) -> None:
    put(db, quote("BBB", 50.0, 1.0))
    put(db, quote("AAA", 20.0, 40.0, ts=NOW - 3 * 86400))  # halted for days
    assert evaluate(db, [AlertRule(symbol="AAA", price_above=10.0)]) == []


def test_options_conditions(db: Path) -> None:
    with Store(db) as store:
        store.store_option_day(
            DAY,
            "cboe",
            [UnderlyingVolume(DAY, s, n, 1, 1, "cboe") for s, n in (("AAA", 700), ("BBB", 300))],
        )
        store.store_leaders(
            mh.previous_trading_day(DAY),
            [Leader(mh.previous_trading_day(DAY), 4, "BBB", 9, 5, 4, True, 1, None, 3.0, "new")],
        )
    events = evaluate(
        db,
        [
            AlertRule(options_share_above=50.0),
            AlertRule(new_options_entrant=True),
            AlertRule(symbol="BBB", options_share_above=50.0),
        ],
    )
    assert [(e.symbol, round(e.options_share or 0)) for e in events] == [("AAA", 70), ("BBB", 30)]
    assert events[1].message == "BBB: new in the daily options top 10 (#4)."


def test_the_stream_path_looks_only_at_the_names_it_moved(db: Path) -> None:
    rule = AlertRule(pct_above=10.0)
    put(db, quote("AAA", 5.0, 12.0), quote("BBB", 50.0, 15.0))
    assert [e.symbol for e in evaluate(db, [rule], symbols=["BBB"])] == ["BBB"]
    assert [e.symbol for e in evaluate(db, [rule])] == ["AAA"]


def at(hh: int, mm: int) -> float:
    return datetime(2026, 11, 20, hh, mm, tzinfo=mh.ET).timestamp()


def path(db: Path, symbol: str, *points: tuple[float, float]) -> None:
    """Stored 5-minute samples (bucket start, price) of `symbol`."""
    with Store(db) as store:
        store.add_history([(symbol, int(ts), price, 1000) for ts, price in points])


def test_pct_in_minutes_up_from_the_windows_low_with_hysteresis(db: Path) -> None:
    rule = AlertRule(name="Speed", pct_in_minutes=(5.0, 10))
    # 11:10 is out of the 10 minutes (its bucket ended 15 minutes before 11:30): its 9.00
    # would make +17.8%; of the rest, 11:20's 10.00 is the lowest.
    path(db, "AAA", (at(11, 10), 9.0), (at(11, 15), 10.3), (at(11, 20), 10.0), (at(11, 25), 10.4))
    put(db, quote("AAA", 10.45, 3.0))
    assert evaluate(db, [rule]) == []  # +4.5%
    put(db, quote("AAA", 10.6, 5.0))
    (event,) = evaluate(db, [rule])
    assert event.message == "AAA up 6.0% in 10 min, to $10.60 (from $10.00 at 11:20 ET)."
    assert event.price == 10.6
    # Percentage points of hysteresis: +4.5% holds it disarmed, +3.5% re-arms it.
    put(db, quote("AAA", 10.45, 3.0))
    assert evaluate(db, [rule]) == []
    put(db, quote("AAA", 10.35, 2.0))
    assert evaluate(db, [rule]) == []
    put(db, quote("AAA", 10.55, 4.0))
    assert [e.symbol for e in evaluate(db, [rule])] == ["AAA"]


def test_pct_in_minutes_down_and_unknown_without_stored_prices(db: Path) -> None:
    down = AlertRule(pct_in_minutes=(-5.0, 10))
    path(db, "BBB", (at(11, 20), 20.0), (at(11, 25), 19.5))
    put(db, quote("BBB", 18.8, -3.0), quote("AAA", 5.0, -20.0))  # AAA: no stored path
    (event,) = evaluate(db, [down])
    assert event.message == "BBB down 6.0% in 10 min, to $18.80 (from $20.00 at 11:20 ET)."
    # A later look the same minute: disarmed.
    assert evaluate(db, [down]) == []
    # The up rule sees no rise from the window's low (the price is it).
    assert evaluate(db, [AlertRule(pct_in_minutes=(5.0, 10))]) == []


def test_halt_and_resume_rules_fire_once_a_halt_with_its_reason(db: Path) -> None:
    from momoscan.halts import Halt, ShortSaleRestriction

    rules = [AlertRule(name="Halted", halt=True), AlertRule(resume=True)]
    put(db, quote("AAA", 10.0, 8.0, ts=at(11, 19)))
    with Store(db) as store:
        store.store_halts(
            [
                Halt("AAA", DAY, at(11, 20), "LUDP", "NASDAQ", "Alpha", at(11, 25), at(11, 25)),
                # Halted before it traded today: no quote of the session, still told.
                Halt("BBB", DAY, at(11, 21), "T1", "NYSE", "Beta"),
                # Outside the cap tiers: a rule without a symbol does not look at it.
                Halt("MEGA", DAY, at(11, 21), "T1", "NYSE", "Mega"),
            ],
            seen_at=at(11, 22),
        )
    fired = evaluate(db, rules, now=at(11, 22))
    assert [(e.name, e.message) for e in fired] == [
        ("Halted", "AAA halted 11:20 ET: LULD pause (LUDP), resumes 11:25 ET."),
        ("Halted", "BBB halted 11:21 ET: news pending (T1), no resumption announced yet."),
    ]
    assert evaluate(db, rules, now=at(11, 23)) == []  # the same halts: never again
    (resumed,) = evaluate(db, rules, now=at(11, 26))
    assert resumed.message == ("AAA resumed 11:25 ET after a halt at 11:20 ET: LULD pause (LUDP).")
    assert evaluate(db, rules, now=at(11, 27)) == []
    # A second halt of the day is another event.
    with Store(db) as store:
        store.store_halts(
            [Halt("AAA", DAY, at(11, 40), "LUDP", "NASDAQ", "Alpha", at(11, 45), at(11, 45))],
            seen_at=at(11, 41),
        )
    assert [e.symbol for e in evaluate(db, rules, now=at(11, 41))] == ["AAA"]
    # Rule 201: once when it comes into force, not again the next day it holds.
    ssr = AlertRule(symbol="AAA", ssr=True)
    with Store(db) as store:
        store.store_restrictions(
            [ShortSaleRestriction("AAA", DAY, at(11, 50), "rule")], seen_at=at(11, 50)
        )
    (event,) = evaluate(db, [ssr], now=at(11, 51))
    assert event.message == "AAA short sale restricted (Rule 201) since 11:50 ET."
    monday = datetime(2026, 11, 23, 9, 35, tzinfo=mh.ET).timestamp()
    assert evaluate(db, [ssr], now=monday) == []


@pytest.mark.anyio
async def test_a_halts_read_between_cycles_fires_the_halt_rules(tmp_path: Path) -> None:
    """The collector's halts poll (HaltStep.watch) hands over to the alerts step, which
    tells its listeners; the next read of the same halt tells nothing."""
    import anyio

    from momoscan.clock import FixedClock
    from momoscan.config import Settings
    from momoscan.engine.alerts import AlertStep
    from momoscan.engine.context import StepContext
    from momoscan.engine.halts import HaltStep
    from momoscan.engine.store_thread import StoreThread
    from momoscan.halts import Halt, ShortSaleRestriction

    class Feed:
        generated_at = at(11, 30)
        halts = [Halt("AAA", DAY, at(11, 28), "LUDP", "NASDAQ", "Alpha", None, at(11, 33))]
        skipped = 0

    class Lists:
        day = DAY
        complete = False
        restrictions: list[ShortSaleRestriction] = []
        skipped = 0

    class Feeds:
        reads = 0

        async def halts(self, day: date | None = None) -> Feed:
            self.reads += 1
            return Feed()

        async def ssr_list(self, day: date) -> Lists:
            return Lists()

    wall = [1_800_000_000.0]

    async def sleep(seconds: float) -> None:
        wall[0] += seconds
        await anyio.sleep(0)

    settings = Settings()
    settings.alerts.rules = [AlertRule(halt=True), AlertRule(pct_above=50.0)]
    store = StoreThread(tmp_path / "s.db")
    await store.start()
    try:
        await store.call(Store.replace_universe, TICKERS, source="t", as_of=DAY, fetched_at=0.0)
        ctx = StepContext(
            settings,
            store,
            FixedClock(datetime(2026, 11, 20, 11, 30, tzinfo=mh.ET)),
            "demo",
            lambda: wall[0],
        )
        feeds = Feeds()
        halts = HaltStep(ctx, feeds, poll_seconds=60.0, sleep=sleep)
        step = AlertStep(ctx)
        halts.after_poll(step.after_halts)
        told: list[AlertEvent] = []
        step.listen(told.extend)
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(halts.watch)
                while feeds.reads < 3:
                    await anyio.sleep(0)
                tg.cancel_scope.cancel()
    finally:
        await store.close()
    assert [e.message for e in told] == [
        "AAA halted 11:28 ET: LULD pause (LUDP), resumes 11:33 ET."
    ]


# ---------------------------------------------------------------------------------------------
# The command line


def stock_in_demo() -> str:
    """A symbol of the 60-symbol demo universe within the default cap tiers."""
    from momoscan.simulated.universe import build_stocks

    return next(s.symbol for s in build_stocks(60, 7) if s.ticker().cap_tier in TIERS)


def test_headless_once_prints_the_alert_and_exits_4_once_per_crossing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    symbol = stock_in_demo()

    def run_at(start: str, *flags: str) -> int:
        # Each cron run starts the simulated clock where a real one would be by then (a demo
        # run started again from an earlier time forgets what fired later: see below).
        config = tmp_path / f"config{start.replace(':', '')}.toml"
        config.write_text(
            f'[demo]\ndate = "2026-11-20"\nstart = "{start}"\n\n'
            f'[[alerts.rules]]\nname = "Test"\nsymbol = "{symbol}"\nprice_above = 0.5\n'
        )
        db = str(tmp_path / "x.db")
        return main(["--config", str(config), "--db", db, "--demo-size", "60", *flags])

    assert run_at("10:00", "--once", "--exit-code-on-alert") == EXIT_ALERT
    out = capsys.readouterr().out
    (line,) = [x for x in out.splitlines() if x.startswith("ALERT")]
    assert re.fullmatch(
        rf"ALERT \d\d:\d\d ET Test: {symbol} at \$[\d.,]+ \([+-][\d.]+%\): "
        r"price ≥ \$0\.5\.",
        line,
    ), line
    assert out.index("ALERT") < out.index("Top volume")
    # The next cron run: the price is still above, no new crossing, exit 0; the JSON still
    # lists what fired today.
    assert run_at("10:05", "--once", "--json", "--exit-code-on-alert") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["alerts"] == [] and doc["refresh"]["alerts_fired"] == 0
    # (the scanner's own entries of the day are there too: the rule's crossing, once)
    (today,) = [a for a in doc["alerts_today"] if a["kind"] == "rule"]
    assert today["symbol"] == symbol and today["name"] == "Test" and today["price"] > 0.5
    # The demo started again at 10:00 replays the crossing: what fired at a later simulated
    # time is gone, so the crossing fires again, once.
    assert run_at("10:00", "--once", "--exit-code-on-alert") == EXIT_ALERT
    capsys.readouterr()
    assert run_at("10:05", "--once", "--exit-code-on-alert") == 0


def test_headless_json_carries_a_pct_in_minutes_alert_from_the_simulated_market(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two cron runs ten simulated minutes apart on one database: the second sees the
    first's prices within its window, and the demo's names move a few percent in minutes."""
    rules = (
        '[[alerts.rules]]\nname = "Up fast"\npct_in_minutes = [2, 10]\n\n'
        '[[alerts.rules]]\nname = "Down fast"\npct_in_minutes = [-2, 10]\n'
    )

    def run_at(start: str) -> dict[str, object]:
        config = tmp_path / f"config{start.replace(':', '')}.toml"
        config.write_text(f'[demo]\ndate = "2026-11-20"\nstart = "{start}"\n\n{rules}')
        db = str(tmp_path / "x.db")
        code = main(["--config", str(config), "--db", db, "--demo-size", "60", "--once", "--json"])
        assert code == 0
        doc = json.loads(capsys.readouterr().out)
        assert isinstance(doc, dict)
        return doc

    assert run_at("10:00")["alerts"] == []  # one sample: nothing to move from
    fired = run_at("10:10")["alerts"]
    assert isinstance(fired, list) and fired, "no pct_in_minutes alert in the demo's 10 minutes"
    for alert in fired:
        assert alert["name"] in ("Up fast", "Down fast")
        assert "pct_in_minutes=" in alert["rule"]
        word = "up" if alert["name"] == "Up fast" else "down"
        assert re.fullmatch(
            rf"{alert['symbol']} {word} \d+\.\d% in 10 min, to \$[\d.,]+ "
            r"\(from \$[\d.,]+ at 10:00 ET\)\.",
            alert["message"],
        ), alert["message"]


def test_exit_code_on_alert_needs_once(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--exit-code-on-alert"])
    assert info.value.code == 2
    assert "--exit-code-on-alert needs --once" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# Desktop notifications


EVENT = AlertEvent("k", "Alpha breakout", "AAA", "AAA at $10.50: price ≥ $10.00.", NOW, DAY)


def test_no_session_bus_means_no_desktop_notifications() -> None:
    if notify.sys.platform in ("darwin", "win32"):
        pytest.skip("the session bus is a Linux and BSD matter")
    assert "D-Bus" in notify.no_service_reason({})
    assert notify.no_service_reason({"DBUS_SESSION_BUS_ADDRESS": "unix:path=/x"}) == ""


@pytest.mark.anyio
async def test_a_notification_service_that_fails_is_quiet_and_tried_once(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    if notify.sys.platform in ("darwin", "win32"):
        pytest.skip("the session bus is a Linux and BSD matter")
    # A bus address that leads nowhere: desktop-notifier logs a traceback rather than raise.
    env = {"DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path / 'no-bus'}"}
    notifier = notify.DesktopNotifier(environ=env)
    assert notifier.active
    with caplog.at_level(logging.INFO, logger="momoscan.notify"):
        assert await notifier.notify([EVENT]) is False
    assert not notifier.active and notifier.unavailable
    assert "desktop notifications are off for this run" in caplog.text
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""
    assert await notifier.notify([EVENT]) is False  # not tried again


@pytest.mark.anyio
async def test_alerts_reach_the_notification_service(monkeypatch: pytest.MonkeyPatch) -> None:
    import desktop_notifier

    sent: list[tuple[str, str]] = []

    class Service:
        def __init__(self, app_name: str) -> None:
            assert app_name == "momoscan"

        async def send(self, *, title: str, message: str) -> None:
            sent.append((title, message))

    monkeypatch.setattr(desktop_notifier, "DesktopNotifier", Service)
    notifier = notify.DesktopNotifier(environ={"DBUS_SESSION_BUS_ADDRESS": "unix:path=/bus"})
    assert await notifier.notify([EVENT]) is True
    other = AlertEvent("k", "", "BBB", "BBB ...", NOW, DAY)
    assert await notifier.notify([EVENT, other, EVENT]) is True
    assert sent == [
        ("momoscan: Alpha breakout", EVENT.message),
        ("momoscan: 3 alerts", "AAA, BBB"),
    ]
    assert notify.DesktopNotifier(enabled=False).active is False
