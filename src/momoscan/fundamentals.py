"""Float, shares outstanding, short interest and short-sale volume: the records the SEC XBRL
and FINRA sources make, the store keeps and the screens show.

Wire facts (see `sources/sec_facts.py` and `sources/finra.py`; ../reference public-feeds.md
§3.5, §4):
- `dei:EntityCommonStockSharesOutstanding` is the cover-page share count as of its `end`
  date, one fact per class (summed per filing), as reported (not split-adjusted).
- `dei:EntityPublicFloat` is a US-dollar amount as of the end of the second fiscal quarter,
  from the 10-K (annual): a share count has to be estimated from it.
- FINRA's short interest file is per settlement date (the 15th and month end), published about
  a week later; its days-to-cover is clamped (1.00-999.99), so it is computed here.
- FINRA's daily short sale volume (CNMS) is short *volume*, not short interest.

Stdlib only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class FloatFigure:
    """A company's share counts, each with the date it is as of.

    `shares_outstanding` (shares) as of `shares_as_of`; `public_float_usd` (US dollars) as of
    `float_as_of`; `float_shares` (shares) the float as a share count: the estimate the source
    step made (`float_basis` says how: "public float / close on as-of date", "public float /
    recent close", "shares outstanding" when the filer reports no public float), never above
    the shares outstanding; None where unknown (never 0). `fetched_at` Unix seconds.
    """

    symbol: str
    cik: int
    shares_outstanding: int | None
    shares_as_of: date | None
    public_float_usd: float | None
    float_as_of: date | None
    float_shares: int | None
    float_basis: str
    fetched_at: float


@dataclass(frozen=True, slots=True)
class ShortInterest:
    """FINRA short interest for one symbol on one settlement date.

    `short_shares` the current short position (shares); `previous_shares` the one before;
    `avg_daily_volume` (shares) FINRA's; `days_to_cover` short_shares / avg_daily_volume,
    computed here (FINRA's own column is clamped), None without a volume.
    """

    symbol: str
    settlement: date
    short_shares: int
    previous_shares: int | None
    avg_daily_volume: int | None
    days_to_cover: float | None


@dataclass(frozen=True, slots=True)
class ShortVolume:
    """FINRA's consolidated (CNMS) short sale volume for one symbol on one trade date.

    `short_volume` and `total_volume` in shares (decimals on the wire: fractional shares);
    `short_share` = short_volume / total_volume (0..1), None when total is 0.
    """

    symbol: str
    day: date
    short_volume: float
    total_volume: float

    @property
    def short_share(self) -> float | None:
        return self.short_volume / self.total_volume if self.total_volume else None


#: `FloatFigure.float_basis` values: how `float_shares` was made.
BASIS_FLOAT_AT_DATE = "public float / close on as-of date"
BASIS_FLOAT_RECENT = "public float / recent close"
BASIS_SHARES = "shares outstanding"
BASIS_NONE = ""


def estimate_float(
    shares_outstanding: int | None,
    public_float_usd: float | None,
    *,
    close_at_float_date: float | None = None,
    recent_close: float | None = None,
) -> tuple[int | None, str]:
    """The float as a share count, and its basis (an ESTIMATE: filers report the public float
    in US dollars, as of the end of their second fiscal quarter).

    The public float divided by a close (dollars a share) on its as-of date when one is known,
    else by a recent close; capped at the shares outstanding (the float is part of them).
    Without a public float (or a price to divide it by), the shares outstanding stand for the
    float. (None, "") when neither figure is known; never 0.
    """
    shares = shares_outstanding if shares_outstanding and shares_outstanding > 0 else None
    if public_float_usd and public_float_usd > 0:
        for price, basis in (
            (close_at_float_date, BASIS_FLOAT_AT_DATE),
            (recent_close, BASIS_FLOAT_RECENT),
        ):
            if price and price > 0:
                estimate = round(public_float_usd / price)
                if shares is not None:
                    estimate = min(estimate, shares)
                if estimate > 0:
                    return estimate, basis
    if shares is not None:
        return shares, BASIS_SHARES
    return None, BASIS_NONE
