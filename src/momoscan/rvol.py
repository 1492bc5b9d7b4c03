"""Relative volume as traders mean it: today's volume against the usual volume by this time of day.

Volume over the average daily volume (`rvol_day`, the whole-day figure) reads about 0.13 at
10:00 for a name trading at its usual pace, and 0.26 at twice that pace, because most of a
day's volume is still to come. RVol at the time of day (`rvol_at_time`) divides instead by the
volume the name usually has traded by this minute, so that the same name reads 1x and 2x:

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

Before the open RVol at the time of day is None (the quotes carry no volume of today's
session); after the close it is the whole day against the usual whole day. A half day (13:00
close) stretches its session onto the curve and never uses a profile. `rvol_5m` is the last
five minutes' volume against the usual volume of those minutes, for the names the stream
carries (`RecentVolumes` remembers their day volumes). store/quotes.py stores all three with
every quote it writes.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Sequence
from datetime import datetime, timedelta

from . import market_hours as mh

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


#: The name's own history replaces the curve with this many earlier full sessions holding a
#: sample near the minute asked (within `MAX_GAP_MINUTES` on both sides). Three, because the
#: default retention (`[store] history_days = 5`, calendar days) keeps three or four earlier
#: sessions: with more asked for, the curve would never give way.
MIN_SESSIONS = 3
#: The most recent earlier full sessions a profile is built from.
PROFILE_SESSIONS = 10
#: A profile's grid: the usual session volume by each 5 minutes from the open (79 points,
#: 09:30 through 16:00), the buckets `quote_history` keeps in the regular session.
GRID_MINUTES = 5
GRID_POINTS = int(SESSION_MINUTES) // GRID_MINUTES + 1
#: Between two samples of an earlier session further apart than this, its volume is not
#: interpolated (that session says nothing of the minutes between them).
MAX_GAP_MINUTES = 30
#: The 5-minute RVol's window, and how much longer it may be when the stream's memory holds
#: no sample exactly five minutes back (the window then starts at the newest sample before).
WINDOW_MINUTES = 5.0
WINDOW_SLACK_MINUTES = 1.0
#: A window (or a time of day) shorter than this after the open says nothing yet.
MIN_MINUTES = 1.0

#: A name's usual regular-session volume (shares) by each point of the grid (minutes
#: GRID_MINUTES * i since the open), NaN where its history says nothing. Built by
#: `store/profiles.py` from `quote_history`, once a session.
Profile = Sequence[float]


def usual_by(profile: Profile | None, minutes: float) -> float | None:
    """The usual volume (shares) by `minutes` since the open from a profile, linear between
    its grid points; None without a profile or where either grid point is unknown."""
    if profile is None:
        return None
    x = min(max(minutes, 0.0), SESSION_MINUTES) / GRID_MINUTES
    i = int(x)
    if i >= GRID_POINTS - 1:
        value = profile[GRID_POINTS - 1]
        return None if value != value else value  # NaN check without math's call
    lo = profile[i]
    if x == i:  # on a grid point: its neighbour does not matter
        return None if lo != lo else lo
    hi = profile[i + 1]
    if lo != lo or hi != hi:
        return None
    return lo + (hi - lo) * (x - i)


class SessionClock:
    """Minutes since the 09:30 ET open of the trading day of a Unix time, with that day's bounds
    cached (a batch of quotes is mostly one day's: one calendar look-up, not one a quote).

    `minutes(at)` is None before the open (or on a closed day) and capped at the close; on a
    half day (13:00 close) `curve_minutes` stretches the 210-minute session onto the curve's
    390, and `full` is False (a name's profile, built from full sessions, is not used).
    Not for sharing between threads: the store's writer has its own (store/profiles.py); the
    functions here default to a module-wide one for callers on one thread."""

    __slots__ = ("_close", "_end", "_open", "_scale", "_start", "full")

    def __init__(self) -> None:
        self._start = self._end = 0.0  # [04:00, next day's 04:00) of the cached day
        self._open = self._close = 0.0
        self._scale = 1.0
        self.full = True

    def _load(self, at: float) -> None:
        local = datetime.fromtimestamp(at, mh.ET)
        day = local.date()
        start = datetime.combine(day, mh.PRE_OPEN, tzinfo=mh.ET)
        if local < start:
            start -= timedelta(days=1)
            day = start.date()
        self._start = start.timestamp()
        self._end = datetime.combine(day + timedelta(days=1), mh.PRE_OPEN, tzinfo=mh.ET).timestamp()
        if mh.is_trading_day(day):
            _, opened, closed, _ = mh.session_bounds(day)
            self._open, self._close = opened.timestamp(), closed.timestamp()
        else:
            self._open = self._close = self._end  # no session: always "before the open"
        length = (self._close - self._open) / 60.0
        self.full = length >= SESSION_MINUTES
        self._scale = SESSION_MINUTES / length if length > 0 else 1.0

    def minutes(self, at: float) -> float | None:
        """Minutes of the regular session behind Unix time `at` (0 at 09:30 ET, the session's
        length from its close until 04:00 next), or None before the open."""
        if not self._start <= at < self._end:
            self._load(at)
        if at < self._open:
            return None
        return (min(at, self._close) - self._open) / 60.0

    def curve_minutes(self, minutes: float) -> float:
        """`minutes` of this day's session on the curve's full-day scale."""
        return minutes * self._scale

    def in_session(self, at: float) -> bool:
        """Whether `at` is within the regular session (09:30 to the close)."""
        if not self._start <= at < self._end:
            self._load(at)
        return self._open <= at < self._close

    def open_at(self, at: float) -> float:
        """Unix seconds of the open of `at`'s trading day."""
        if not self._start <= at < self._end:
            self._load(at)
        return self._open


_CLOCK = SessionClock()


def usual_parts(
    minutes: float, profile: Profile | None = None, clock: SessionClock = _CLOCK
) -> tuple[float | None, float]:
    """What the usual regular-session volume by `minutes` since the open is made of: the
    profile's figure (shares; None where it does not know, or on a half day) and the curve's
    share (0..1) that the average daily volume is multiplied by when the profile says nothing.
    (The quote writes bind both and let SQLite take the stored average volume.)"""
    usual = usual_by(profile, minutes) if clock.full else None
    return usual, volume_share_by(clock.curve_minutes(minutes))


def window_parts(
    start: float, end: float, profile: Profile | None = None, clock: SessionClock = _CLOCK
) -> tuple[float | None, float]:
    """`usual_parts` for the volume traded between `start` and `end` minutes since the open."""
    usual = None
    if clock.full:
        lo, hi = usual_by(profile, start), usual_by(profile, end)
        if lo is not None and hi is not None and hi > lo:
            usual = hi - lo
    share = volume_share_by(clock.curve_minutes(end)) - volume_share_by(clock.curve_minutes(start))
    return usual, share


def _usual(parts: tuple[float | None, float], avg_volume: float | None) -> float | None:
    usual, share = parts
    if usual is not None:
        return usual
    return avg_volume * share if avg_volume and share > 0 else None


def minutes_at(at: float, clock: SessionClock = _CLOCK) -> float | None:
    """Minutes since the open by the quote's time `at` (Unix seconds) for RVol at the time of
    day: at least `MIN_MINUTES` (a quote stamped in the open's minute carries that minute's
    volume), the session's length after the close, None before the open."""
    minutes = clock.minutes(at)
    return None if minutes is None else max(minutes, MIN_MINUTES)


def rvol_at_time(
    volume: float | None,
    avg_volume: float | None,
    at: float,
    profile: Profile | None = None,
    *,
    clock: SessionClock = _CLOCK,
) -> float | None:
    """RVol at the time of day: `volume` (today's regular-session shares so far, as a quote
    carries it) over the usual volume by the quote's time `at` (Unix seconds).

    The usual volume is the name's `profile` (its earlier sessions' median, see
    `store/profiles.py`) where it knows the minute, else `avg_volume` (shares a day) times
    `volume_share_by`. After the close it is the whole day's (so RVol is the whole-day figure,
    or the day against the profile's usual day). Before the open it is None: the quote's volume
    is then the previous session's (a /quote's daily bar) or none (Twelve Data's pre-market bars
    come without volume: twelvedata reference, TD-PREPOST); the gappers table's
    `premarket_rvol` judges the pre-market. None too without a volume or a usual figure."""
    if volume is None:
        return None
    minutes = minutes_at(at, clock)
    if minutes is None:
        return None
    usual = _usual(usual_parts(minutes, profile, clock), avg_volume)
    return volume / usual if usual else None


def rvol_day(volume: float | None, avg_volume: float | None) -> float | None:
    """The whole-day figure: `volume` over the average daily volume (shares over shares a day)."""
    if volume is None or not avg_volume:
        return None
    return volume / avg_volume


def window_5m(
    volume: float,
    at: float,
    before: tuple[float, float] | None,
    clock: SessionClock = _CLOCK,
) -> tuple[float, float, float] | None:
    """The 5-minute window ending at `at` (Unix seconds, in the regular session): (start and
    end in minutes since the open, shares traded in it), from today's session `volume` at `at`
    and `before`, (Unix seconds, session volume) of a sample at or just before five minutes
    ago (`RecentVolumes.before`). Within five minutes of the open the window starts at the
    open (volume 0) when there is no such sample. None outside the session, without a start,
    for a window under `MIN_MINUTES`, or when the volume went down (a correction)."""
    if not clock.in_session(at):
        return None
    end = clock.minutes(at)
    assert end is not None  # in the session
    if before is None:
        if end > WINDOW_MINUTES:
            return None
        start, earlier = 0.0, 0.0
    else:
        ts, earlier = before
        start = max(0.0, end - (at - ts) / 60.0)
        if ts < clock.open_at(at):
            earlier = 0.0  # a sample from before the open holds no volume of this session
    if end - start < MIN_MINUTES or volume < earlier:
        return None
    return start, end, volume - earlier


def rvol_5m(
    volume: float | None,
    at: float,
    before: tuple[float, float] | None,
    avg_volume: float | None,
    profile: Profile | None = None,
    *,
    clock: SessionClock = _CLOCK,
) -> float | None:
    """The 5-minute RVol: the shares traded over about the last five minutes (`window_5m`)
    against the usual volume of those minutes at this time of day (the profile's where it
    knows both ends, else the average daily volume times the curve's share of the window).
    None where `window_5m` is, without a volume, or without a usual figure."""
    if volume is None:
        return None
    window = window_5m(volume, at, before, clock)
    if window is None:
        return None
    start, end, traded = window
    usual = _usual(window_parts(start, end, profile, clock), avg_volume)
    return traded / usual if usual else None


class RecentVolumes:
    """The stream's recent (Unix seconds, session volume) samples per symbol, for the 5-minute
    window: at most one sample every `spacing` seconds, none older than `keep` seconds
    behind the newest. In memory only (the writer's), so a restart starts the window afresh."""

    __slots__ = ("_keep", "_samples", "_spacing")

    def __init__(self, *, spacing: float = 15.0, keep: float = 390.0) -> None:
        self._spacing = spacing
        self._keep = keep
        self._samples: dict[str, deque[tuple[float, float]]] = {}

    def add(self, symbol: str, at: float, volume: float) -> None:
        """Remember `symbol`'s session `volume` at `at` (a sample older than the newest is
        ignored, unless by more than `keep`: the clock went back, and the memory starts
        afresh; one within `spacing` of the sample before the newest replaces the newest)."""
        samples = self._samples.get(symbol)
        if samples is None:
            self._samples[symbol] = deque([(at, volume)])
            return
        last = samples[-1][0]
        if at < last:
            if last - at > self._keep:  # the clock went back (a demo restarted): start afresh
                samples.clear()
                samples.append((at, volume))
            return
        if len(samples) > 1 and at - samples[-2][0] < self._spacing:
            samples[-1] = (at, volume)
        else:
            samples.append((at, volume))
        horizon = at - self._keep
        while samples[0][0] < horizon:
            samples.popleft()

    def before(self, symbol: str, at: float) -> tuple[float, float] | None:
        """The newest sample at or before `WINDOW_MINUTES` before `at`, if it is at most
        `WINDOW_SLACK_MINUTES` older than that; else None."""
        samples = self._samples.get(symbol)
        if not samples:
            return None
        edge = at - WINDOW_MINUTES * 60.0
        found = None
        for sample in samples:
            if sample[0] > edge:
                break
            found = sample
        if found is None or found[0] < edge - WINDOW_SLACK_MINUTES * 60.0:
            return None
        return found

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._samples

    def clear(self) -> None:
        self._samples.clear()
