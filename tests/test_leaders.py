"""New-entrant rules on hand-built histories."""

from __future__ import annotations

from datetime import date, timedelta

from momoscan.leaders import compute_leaders, filter_volumes, top_n

D0 = date(2026, 10, 1)


def day(n: int) -> date:
    return D0 + timedelta(days=n)


def vols(*names: str, base: int = 1000, step: int = 10) -> dict[str, tuple[int, int, int]]:
    """Names ranked in the order given: the first has the most volume."""
    return {
        name: (base - i * step, (base - i * step) // 2, (base - i * step) - (base - i * step) // 2)
        for i, name in enumerate(names)
    }


REGULARS = [f"R{i}" for i in range(12)]  # R0..R9 fill the top 10; R10, R11 sit just below


def history_of(days: int) -> dict[date, dict[str, tuple[int, int, int]]]:
    return {day(i): vols(*REGULARS) for i in range(days)}


def test_first_day_flags_nothing() -> None:
    history = {day(0): vols(*REGULARS)}
    leaders = compute_leaders(day(0), history, window=[])
    assert [x.underlying for x in leaders] == REGULARS[:10]
    assert not any(x.is_new for x in leaders)
    assert all(x.streak == 1 and x.rank_change is None and x.volume_ratio is None for x in leaders)


def test_a_newcomer_is_new_with_ratio_and_reason() -> None:
    history = history_of(20)
    today = vols("SPIKE", *REGULARS, base=5000, step=400)
    history[day(20)] = today
    # SPIKE traded 200 a day before: today 5000 is 25x.
    for i in range(20):
        history[day(i)]["SPIKE"] = (200, 100, 100)
    window = [day(i) for i in range(20)]
    leaders = compute_leaders(day(20), history, window)
    first = leaders[0]
    assert first.underlying == "SPIKE" and first.rank == 1
    assert first.is_new and first.streak == 1 and first.rank_change is None
    assert first.volume_ratio == 25.0
    assert first.reason == "first time in the top 10 in 20 days; volume 25.0x its 20-day average"
    # Everyone else was in the top 10 every day.
    assert not any(x.is_new for x in leaders[1:])
    assert leaders[1].streak == 21


def test_a_returning_name_inside_the_window_is_not_new() -> None:
    history = history_of(20)
    # R10 was in the top 10 on day 3 only (R9 dropped out that day).
    history[day(3)] = vols(*REGULARS[:9], "R10", "R9", "R11")
    history[day(20)] = vols(*REGULARS[:9], "R10", "R9", "R11")
    window = [day(i) for i in range(20)]
    leaders = compute_leaders(day(20), history, window)
    r10 = next(x for x in leaders if x.underlying == "R10")
    assert not r10.is_new
    assert r10.streak == 1  # it was not in yesterday's top 10
    assert r10.rank_change is None


def test_a_name_last_seen_before_the_window_is_new_again() -> None:
    history = history_of(25)
    history[day(1)] = vols(*REGULARS[:9], "R10", "R9")  # in the top 10 on day 1 only
    history[day(25)] = vols(*REGULARS[:9], "R10", "R9")
    window = [day(i) for i in range(5, 25)]  # 20 days: day 1 is outside
    r10 = next(x for x in compute_leaders(day(25), history, window) if x.underlying == "R10")
    assert r10.is_new


def test_tie_at_rank_10_is_broken_alphabetically() -> None:
    today = vols(*REGULARS[:9])
    today["ZED"] = (500, 250, 250)
    today["ABE"] = (500, 250, 250)
    history = history_of(5)
    history[day(5)] = today
    leaders = compute_leaders(day(5), history, [day(i) for i in range(5)])
    assert len(leaders) == 10
    assert leaders[-1].underlying == "ABE" and leaders[-1].rank == 10
    assert leaders[-1].is_new
    assert "ZED" not in {x.underlying for x in leaders}
    assert top_n(today)[-1] == "ABE"


def test_gap_in_days_is_skipped_not_counted() -> None:
    history = history_of(20)
    del history[day(19)]  # yesterday's file never arrived
    del history[day(10)]
    history[day(20)] = vols("NEWCO", *REGULARS)
    for i in range(20):
        if day(i) in history:
            history[day(i)]["NEWCO"] = (100, 50, 50)
    window = [day(i) for i in range(20)]
    leaders = compute_leaders(day(20), history, window)
    newco = leaders[0]
    assert newco.is_new
    assert newco.reason.startswith("first time in the top 10 in the 18 days on record")
    assert "18-day average" in newco.reason
    # Rank change compares with the newest day on record (day 18), and a gap does not end a streak.
    r0 = next(x for x in leaders if x.underlying == "R0")
    assert r0.rank_change == -1 and r0.streak == 19


def test_rank_change_sign() -> None:
    history = {day(0): vols(*REGULARS), day(1): vols("R3", "R0", "R1", "R2", *REGULARS[4:])}
    leaders = compute_leaders(day(1), history, [day(0)])
    by = {x.underlying: x for x in leaders}
    assert by["R3"].rank_change == 3 and by["R0"].rank_change == -1 and by["R5"].rank_change == 0


def test_filter_volumes() -> None:
    v = vols("SPY", "AAPL", "QQQ", "TSLA")
    assert list(filter_volumes(v, exclude=frozenset({"SPY", "QQQ"}))) == ["AAPL", "TSLA"]
    assert list(filter_volumes(v, only=frozenset({"TSLA"}))) == ["TSLA"]
