"""How much of the CPU the host gave this machine: steal time, from /proc/stat (Linux).

On a virtual machine the hypervisor may run other guests on the cores this one was given. The
time a virtual CPU was ready to run and was not is counted as steal (proc(5), the 8th field of
the `cpu` line, in USER_HZ ticks, 1/100 s). A figure measured while the host steals a large
share is the host's as much as momoscan's: every timing section prints the share it saw.
"""

from __future__ import annotations

from pathlib import Path

STAT = Path("/proc/stat")


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
