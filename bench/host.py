"""How much of the CPU the host gave this machine: steal time, from /proc/stat (Linux).

On a virtual machine the hypervisor may run other guests on the cores this one was given. The
time a virtual CPU was ready to run and was not is counted as steal (proc(5), the 8th field of
the `cpu` line, in USER_HZ ticks, 1/100 s). A figure measured while the host steals a large
share is the host's as much as momoscan's: every timing section prints the share it saw, and
the lag and import sections set a run aside and run another when the host withheld more than
`QUIET` of it (`pick_quiet`), printing what they set aside.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

STAT = Path("/proc/stat")

#: The most of the CPU time asked (a share, 0-1) the host may withhold during a run the lag
#: and import sections keep; over it, the run measured the host as much as momoscan.
QUIET = 0.05

T = TypeVar("T")


def cpu_ticks() -> tuple[int, int] | None:
    """(steal, busy) ticks summed over all CPUs since boot, busy being every non-idle field
    (user, nice, system, irq, softirq, steal); None where /proc/stat is not there."""
    try:
        fields = [int(x) for x in STAT.read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return steal, user + nice + system + irq + softirq + steal


def steal_share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """The share (0-1) of the CPU time asked for between two `cpu_ticks()` that the host
    withheld; None when unknown or when nothing ran."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])


def _withheld(steal: Callable[[T], float | None], result: T) -> float:
    """`steal(result)`, with unknown (None) counted as nothing withheld."""
    return steal(result) or 0.0


def pick_quiet(
    results: Sequence[T], runs: int, steal: Callable[[T], float | None]
) -> tuple[list[T], list[T]]:
    """Split `results` (in the order run) into the `runs` to judge and the rest, set aside.

    The first `runs` results whose `steal(result)` (a share, 0-1; None when unknown, which
    counts as quiet) is at most `QUIET` are kept; when fewer were quiet, the least-stolen of
    the others make up the count, so a host that is noisy throughout still shows in the
    figures rather than vanishing from them."""
    quiet = [r for r in results if _withheld(steal, r) <= QUIET]
    noisy = sorted(
        (r for r in results if _withheld(steal, r) > QUIET), key=lambda r: _withheld(steal, r)
    )
    ranked = quiet + noisy
    return ranked[:runs], ranked[runs:]


def quiet_count(results: Sequence[T], steal: Callable[[T], float | None]) -> int:
    """How many of `results` ran while the host withheld at most `QUIET` of the CPU."""
    return sum(1 for r in results if _withheld(steal, r) <= QUIET)
