"""Relative volume as traders mean it: today's volume against the usual volume by this time of day.

Volume over the average daily volume reads 0.3x at 10:00 for a name trading at its usual
pace, because most of a day's volume is still to come. RVol at the time of day divides instead
by the volume the name usually has traded by this minute:

- from the name's own stored intraday history when it has enough (`MIN_SESSIONS` earlier
  sessions with a sample near this minute), the median of those sessions' volume by then;
- else the average daily volume times `volume_share_by(minutes since the open)`, a documented
  curve (`VOLUME_CURVE`).

The curve is an approximation: the U shape that studies of US equity volume have described
since Jain and Joh (1988) and Admati and Pfleiderer (1988), heavy in the first and last half
hours, with the level of practitioners' published averages for US stocks (roughly an eighth of
the regular session's volume in the first half hour, a sixth in the last one with the closing
auction). The exact figures vary by name, by year and by day of the week; they were not
checked against a data set here (a wire fact not confirmed), which is why a name's own history
replaces the curve as soon as there is enough of it.
"""

from __future__ import annotations

import bisect

#: The usual cumulative share of a US stock's regular-session volume by each half hour from
#: the 09:30 ET open (minutes since the open, share 0..1): a U-shaped day, heavy first and last
#: half hours. An approximation (see the module's docstring).
VOLUME_CURVE: tuple[tuple[int, float], ...] = (
    (0, 0.0),
    (30, 0.13),
    (60, 0.22),
    (90, 0.30),
    (120, 0.37),
    (150, 0.43),
    (180, 0.48),
    (210, 0.53),
    (240, 0.58),
    (270, 0.63),
    (300, 0.69),
    (330, 0.76),
    (360, 0.85),
    (390, 1.0),
)
_CURVE_X = [x for x, _ in VOLUME_CURVE]
#: Minutes in a full regular session (09:30-16:00 ET).
SESSION_MINUTES = 390.0


def volume_share_by(minutes_since_open: float) -> float:
    """The usual share (0..1) of a day's regular-session volume traded by `minutes_since_open`
    (minutes since 09:30 ET; clamped to the session, so before the open it is 0 and after the
    close 1), linear between the points of `VOLUME_CURVE`."""
    m = min(max(minutes_since_open, 0.0), SESSION_MINUTES)
    i = bisect.bisect_right(_CURVE_X, m) - 1
    if i >= len(VOLUME_CURVE) - 1:
        return 1.0
    (x0, y0), (x1, y1) = VOLUME_CURVE[i], VOLUME_CURVE[i + 1]
    return y0 + (y1 - y0) * (m - x0) / (x1 - x0)
