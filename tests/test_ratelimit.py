"""The credit budget's invariant, checked with a fake clock over long simulated sweeps."""

from __future__ import annotations

import random

import anyio
import pytest

from momoscan.sources.ratelimit import CreditBudget


class FakeTime:
    def __init__(self, start: float = 1_000.0):
        self.now = start

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await anyio.lowlevel.checkpoint()


def max_in_any_window(grants: list[tuple[float, int]], window: float) -> int:
    """The most credits granted within any half-open span of `window` seconds."""
    best = 0
    j = 0
    running = 0
    for i, (t, c) in enumerate(grants):
        running += c
        while grants[j][0] <= t - window:
            running -= grants[j][1]
            j += 1
        best = max(best, running)
        _ = i
    return best


async def sweep(
    budget: CreditBudget,
    fake: FakeTime,
    symbols: int,
    batch: int,
    latency: float,
    rng: random.Random,
) -> list[tuple[float, int]]:
    grants: list[tuple[float, int]] = []
    left = symbols
    while left:
        want = min(batch, left)
        got = await budget.take(want)
        grants.append((fake.now, got))
        left -= got
        fake.now += latency * rng.random()
    return grants


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("limit", "batch"), [(8, 120), (55, 120), (377, 120), (1597, 120), (610, 50)]
)
async def test_never_more_than_limit_in_any_60s_and_at_least_97_percent(
    limit: int, batch: int
) -> None:
    fake = FakeTime()
    budget = CreditBudget(limit, clock=fake.clock, sleep=fake.sleep)
    rng = random.Random(limit)
    start = fake.now
    symbols = limit * 12 + 7  # a dozen minutes' worth: the universe exceeds a minute's credits
    grants = await sweep(budget, fake, symbols, batch, latency=0.4, rng=rng)
    assert sum(c for _, c in grants) == symbols
    # The invariant, for rolling windows (and so for clock-aligned ones too).
    assert max_in_any_window(grants, 60.0) <= limit
    for t0 in range(int(start), int(fake.now), 7):
        aligned = sum(c for t, c in grants if t0 <= t < t0 + 60)
        assert aligned <= limit
    # Throughput: the credits granted before the last grant, over the time it took to reach it,
    # must be at least 97 % of the plan's credits per minute.
    last_at = grants[-1][0]
    before_last = sum(c for t, c in grants if t < last_at)
    rate = before_last / ((last_at - start) / 60.0)
    assert rate >= 0.97 * limit, (rate, limit)
    # And no batch is ever larger than what was left in the window.
    assert all(c <= limit for _, c in grants)


@pytest.mark.anyio
async def test_restart_with_previous_spends_waits_for_them() -> None:
    fake = FakeTime(start=500.0)
    # A previous run spent 90 of 100 credits 20 s ago.
    budget = CreditBudget(100, clock=fake.clock, sleep=fake.sleep, spent=[(480.0, 90)])
    assert budget.available() == 10
    got = await budget.take(50, minimum=50)
    assert got == 50
    # It had to wait until the old 90 left the window (480 + 60 + 1 s margin).
    assert fake.now >= 541.0


@pytest.mark.anyio
async def test_concurrent_takers_never_overdraw() -> None:
    fake = FakeTime()
    budget = CreditBudget(100, clock=fake.clock, sleep=fake.sleep)
    grants: list[tuple[float, int]] = []

    async def worker() -> None:
        for _ in range(10):
            got = await budget.take(30, minimum=10)
            grants.append((fake.now, got))
            await fake.sleep(0.1)

    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(worker)
    grants.sort()
    assert max_in_any_window(grants, 60.0) <= 100


def test_sync_left_counts_unknown_spends() -> None:
    now = [0.0]
    budget = CreditBudget(100, clock=lambda: now[0])
    budget.record(10)
    budget.sync_left(60)  # the server says 40 are used; we knew of 10
    assert budget.available() == 60
    budget.sync_left(90)  # the server is more generous than our ledger: keep ours
    assert budget.available() == 60


def test_bad_limit() -> None:
    with pytest.raises(ValueError):
        CreditBudget(0)


@pytest.mark.anyio
@pytest.mark.parametrize(("limit", "phase"), [(1597, 0.97), (240, 0.25), (55, 0.5)])
async def test_every_clock_minute_gets_its_share_over_an_hour(limit: int, phase: float) -> None:
    """Without pacing, grants come in bursts every 61 s and drift against the server's clock
    minutes until one minute gets nothing; paced, every minute gets close to its share."""
    fake = FakeTime(start=6_000_000.0 + phase * 60.0)
    budget = CreditBudget(limit, clock=fake.clock, sleep=fake.sleep)
    rng = random.Random(limit)
    grants = await sweep(budget, fake, limit * 70, 120, latency=0.2, rng=rng)
    per_minute: dict[int, int] = {}
    for t, c in grants:
        per_minute[int(t // 60)] = per_minute.get(int(t // 60), 0) + c
    minutes = sorted(per_minute)
    full = [per_minute.get(m, 0) for m in range(minutes[0] + 2, minutes[-1])]
    assert max(per_minute.values()) <= limit
    assert min(full) >= 0.75 * limit, min(full)  # step granularity; never an empty minute
    assert sum(full) / len(full) >= 0.97 * limit


# -- the wall clock jumps (issue 24, item 7) ---------------------------------------------------


class JumpyTime(FakeTime):
    """A monotonic clock (`clock`) and a wall clock (`wall`) that someone may set."""

    def __init__(self, start: float = 1_000.0, wall: float = 1_800_000_000.0):
        super().__init__(start)
        self.offset = wall - start

    def wall(self) -> float:
        return self.now + self.offset

    def set_wall(self, seconds: float) -> None:
        self.offset += seconds


async def jumpy_sweep(limit: int, jump: float) -> tuple[list[tuple[float, int]], float]:
    """A dozen minutes' sweep with the wall clock set by `jump` seconds once the first window's
    credits are gone: the grants on the monotonic (real) clock, and the sweep's duration."""
    fake = JumpyTime()
    budget = CreditBudget(limit, clock=fake.clock, wall=fake.wall, sleep=fake.sleep)
    rng = random.Random(limit)
    grants: list[tuple[float, int]] = []
    left = limit * 12
    while left:
        got = await budget.take(min(120, left))
        grants.append((fake.now, got))
        left -= got
        if jump and sum(c for _, c in grants) >= limit:
            fake.set_wall(jump)
            jump = 0.0
        fake.now += 0.4 * rng.random()
    return grants, grants[-1][0] - grants[0][0]


@pytest.mark.anyio
@pytest.mark.parametrize("limit", [8, 55, 610])
@pytest.mark.parametrize("jump", [-3600.0, 3600.0, -86400.0])
async def test_a_wall_clock_jump_neither_stalls_nor_overspends(limit: int, jump: float) -> None:
    steady, steady_took = await jumpy_sweep(limit, 0.0)
    grants, took = await jumpy_sweep(limit, jump)
    # Never more than the plan in any 60 s of real time, whichever way the clock was set...
    assert max_in_any_window(grants, 60.0) <= limit
    # ...and the sweep takes as long as without the jump (before: an hour longer, for -3600).
    assert sum(c for _, c in grants) == limit * 12
    assert took == pytest.approx(steady_took, abs=1.0)
    assert grants == steady


@pytest.mark.anyio
async def test_a_saved_grant_stamped_in_the_future_counts_as_spent_now() -> None:
    fake = JumpyTime(wall=1_800_000_000.0)
    # Saved before the wall clock went back an hour: stamped an hour ahead of it now.
    ahead = fake.wall() + 3600.0
    budget = CreditBudget(
        100, clock=fake.clock, wall=fake.wall, sleep=fake.sleep, spent=[(ahead, 90)]
    )
    assert budget.available() == 10
    started = fake.now
    assert await budget.take(50, minimum=50) == 50
    # One window (60 s and the margin), not the hour until the wall clock catches up.
    assert fake.now - started == pytest.approx(61.0, abs=0.01)
    # record() clamps the same way.
    later = CreditBudget(100, clock=fake.clock, wall=fake.wall, sleep=fake.sleep)
    later.record(40, at=fake.wall() + 600.0)
    assert later.available() == 60
    fake.now += 61.5
    assert later.available() == 100


def test_entries_carry_wall_clock_stamps_to_the_next_budget() -> None:
    fake = JumpyTime(start=50.0, wall=1_800_000_000.0)
    first = CreditBudget(100, clock=fake.clock, wall=fake.wall)
    first.record(30)
    fake.now += 20.0
    first.record(20)
    stamps = first.entries()
    assert stamps == [(1_800_000_000.0, 30), (1_800_000_020.0, 20)]
    # A new process: another monotonic origin, the same wall clock.
    fake.now += 10.0
    second = CreditBudget(100, clock=lambda: 7.0 + fake.now, wall=fake.wall, spent=stamps)
    assert second.available() == 50
    fake.now += 31.5  # the first 30 leave the window (61 s after they were spent)
    assert second.available() == 80
