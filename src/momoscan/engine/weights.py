"""The free signals of a name's weight in the priority scheduler: a fresh SEC filing (a
catalyst) and a low float. Both cost no credits (the filings and floats steps store them from
SEC EDGAR); each is a part of the weight for an outlier, capped like the others, with the
words `why` says.

- catalyst: a filing accepted in the last `CATALYST_MINUTES` on the name. An 8-K's results
  (item 2.02), a material agreement (1.01) or news (7.01, 8.01), a 6-K, a 13D move names;
  an offering (S-1, 424B) weighs less, as it often ends a run rather than starts one; an
  insider's Form 4 less still. The part is whole for `CATALYST_FULL_MINUTES` after the
  acceptance, then fades to nothing at `CATALYST_MINUTES`: a move on news comes within
  minutes, and by then the name has been quoted again.
- float: a float under `LOW_FLOAT` shares, more the smaller it is (3M shares weigh more than
  30M; 300M none). A small float moves furthest on a catalyst or heavy volume, so the part
  doubles when the name also has one. No figure, no part (never read as 0).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..filings import Filing, label
from ..fundamentals import FloatFigure

#: A filing counts as a catalyst for this long after its acceptance (minutes).
CATALYST_MINUTES = 60.0
#: ... and whole for this long (minutes), then fading linearly to nothing.
CATALYST_FULL_MINUTES = 15.0
#: The catalyst part of each kind of filing (`filings.KINDS`), before its age fades it.
KIND_BOOST = {
    "results": 3.0,  # 8-K 2.02
    "material": 2.5,  # 8-K 1.01
    "news": 2.5,  # 8-K 7.01 / 8.01, 6-K
    "ownership": 2.0,  # 13D/G
    "other": 1.0,  # another 8-K item
    "offering": 1.0,  # S-1, 424B: often the end of a run
    "insider": 0.5,  # Form 4
}
CATALYST_CAP = 3.0
#: A catalyst weighing at least this (an 8-K's results, agreement or news, a 6-K, a 13D) is
#: quoted every cycle while whole (`CATALYST_FULL_MINUTES`): the move on news comes within
#: minutes, and a weight alone would wait for the name's turn in the sweep.
HOT_BOOST = 2.0
#: A float under this many shares is low, and weighs more the smaller it is.
LOW_FLOAT = 50_000_000
#: The float part at its most (with a catalyst or heavy volume), and without either.
FLOAT_CAP = 1.5
FLOAT_ALONE = 0.5


@dataclass(frozen=True, slots=True)
class Catalyst:
    """A name's catalyst part: its size (0..`CATALYST_CAP`), the filing that made it in
    words ("8-K 2.02 4m ago"), when it was accepted (Unix seconds) and whether it is quoted
    every cycle (`HOT_BOOST`)."""

    boost: float
    text: str
    accepted_at: float = 0.0
    hot: bool = False


def catalyst_boost(f: Filing, now: float) -> float:
    """One filing's catalyst part at `now` (Unix seconds): its kind's, faded by its age."""
    age_min = max(0.0, now - f.accepted_at) / 60.0
    if age_min >= CATALYST_MINUTES:
        return 0.0
    fade = 1.0 - max(0.0, age_min - CATALYST_FULL_MINUTES) / (
        CATALYST_MINUTES - CATALYST_FULL_MINUTES
    )
    return min(CATALYST_CAP, KIND_BOOST.get(f.kind, KIND_BOOST["other"]) * fade)


def catalysts(filings: Mapping[str, Sequence[Filing]], now: float) -> dict[str, Catalyst]:
    """Each symbol's catalyst part from its recent filings (`queries.filings.recent_filings`
    as read once a plan): the filing that weighs most, with its words. Symbols whose filings
    weigh nothing (too old) are left out."""
    out: dict[str, Catalyst] = {}
    for symbol, rows in filings.items():
        best: tuple[float, Filing] | None = None
        for f in rows:
            boost = catalyst_boost(f, now)
            if boost > 0 and (best is None or boost > best[0]):
                best = (boost, f)
        if best is not None:
            boost, f = best
            age = max(0.0, now - f.accepted_at)
            hot = boost >= HOT_BOOST and age < CATALYST_FULL_MINUTES * 60.0
            out[symbol] = Catalyst(boost, f"{label(f)} {_ago(age)} ago", f.accepted_at, hot)
    return out


def hot_catalysts(made: Mapping[str, Catalyst]) -> list[str]:
    """The names a fresh, telling filing puts in every cycle, the heaviest first, then the
    newest."""
    hot = [(s, c) for s, c in made.items() if c.hot]
    hot.sort(key=lambda sc: (-sc[1].boost, -sc[1].accepted_at, sc[0]))
    return [s for s, _ in hot]


def float_shares(figures: Mapping[str, FloatFigure], symbols: Sequence[str]) -> np.ndarray:
    """The float (shares) of each of `symbols`, nan where no figure is known."""
    out = np.full(len(symbols), np.nan)
    for i, symbol in enumerate(symbols):
        figure = figures.get(symbol)
        if figure is not None and figure.float_shares:
            out[i] = float(figure.float_shares)
    return out


def float_boosts(shares: np.ndarray, amplified: np.ndarray) -> np.ndarray:
    """The float part of each name (an array like `shares`, its float in shares, nan where
    unknown): half the number of halvings it lies under `LOW_FLOAT` (1.16 at 10M shares,
    0.66 at 20M, 0 from 50M), capped at `FLOAT_CAP` (from 6.25M shares down), times
    `FLOAT_ALONE` alone or whole where `amplified` (a catalyst or heavy volume). 0 where the
    float is unknown."""
    with np.errstate(invalid="ignore", divide="ignore"):
        halvings = np.log2(LOW_FLOAT / shares)
    low = np.clip(np.nan_to_num(halvings, nan=0.0, posinf=0.0, neginf=0.0) / 2.0, 0.0, FLOAT_CAP)
    return np.minimum(FLOAT_CAP, low * np.where(amplified, 1.0, FLOAT_ALONE))


def float_words(shares: float) -> str:
    """ "low float 3.1M shares"."""
    if shares >= 1e6:
        return f"low float {shares / 1e6:.1f}M shares"
    return f"low float {math.floor(shares / 1e3):.0f}K shares"


def _ago(seconds: float) -> str:
    if seconds < 60:
        return f"{int(seconds)}s"
    if seconds < 5400:
        return f"{int(seconds // 60)}m"
    return f"{seconds / 3600:.0f}h"
