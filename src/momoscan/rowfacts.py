"""What a row says of a name's float and short interest: `Float 4.2M`, `Rot. 3.1x`, `SI% 18.4%`,
and the JSON shapes of the float, the short interest and the day's filings.

From what the snapshot read (`queries.fundamentals`, `queries.filings`); the terminal UI, the
headless text and the JSON all use these, so a figure reads the same everywhere. A name without
a figure says `-` (None in JSON), never 0. Stdlib only: no Textual, no SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from . import format as fmt
from .filings import ITEMS, Filing
from .fundamentals import FloatFigure, ShortInterest, ShortVolume
from .lead import Lead
from .queries.scan import ScanRow
from .queries.snapshots import Snapshot


@dataclass(frozen=True, slots=True)
class RowFacts:
    """A name's float figures at a read.

    `float_shares` (shares, an estimate: see `FloatFigure.float_basis`); `float_rotation`
    today's volume / float (times: 1.0 means the whole float traded once today);
    `si_pct` the latest short interest / float, in percent; `days_to_cover` short interest /
    FINRA's average daily volume (days). None where unknown.
    """

    float_shares: int | None = None
    float_rotation: float | None = None
    si_pct: float | None = None
    days_to_cover: float | None = None

    @property
    def float_text(self) -> str:
        return fmt.count(self.float_shares)

    @property
    def rotation_text(self) -> str:
        """`2.3x`, and two decimals under a tenth (`0.04x`): most names turn a few % of
        their float a day, and `0.0x` would say nothing."""
        value = self.float_rotation
        if value is not None and value < 0.1:
            return f"{value:.2f}x"
        return fmt.ratio(value)

    @property
    def si_text(self) -> str:
        return "-" if self.si_pct is None else f"{self.si_pct:.1f}%"


def float_filter_text(low: float | None, high: float | None) -> str:
    """The float filter in a few words: `float ≤ 20.0M`, `float 1.00M-20.0M`, "" without a
    bound (shares)."""
    if low is not None and high is not None:
        return f"float {fmt.count(low)}-{fmt.count(high)}"
    if high is not None:
        return f"float ≤ {fmt.count(high)}"
    if low is not None:
        return f"float ≥ {fmt.count(low)}"
    return ""


def row_facts(
    symbol: str,
    volume: int | None,
    floats: Mapping[str, FloatFigure],
    short_interest: Mapping[str, ShortInterest],
) -> RowFacts:
    """`symbol`'s float, float rotation (with today's `volume`, shares) and SI%."""
    figure = floats.get(symbol)
    shares = figure.float_shares if figure is not None and figure.float_shares else None
    si = short_interest.get(symbol)
    return RowFacts(
        float_shares=shares,
        float_rotation=volume / shares if shares and volume is not None else None,
        si_pct=si.short_shares / shares * 100 if si is not None and shares else None,
        days_to_cover=si.days_to_cover if si is not None else None,
    )


def float_json(figure: FloatFigure | None) -> dict[str, object] | None:
    """A name's float as the headless JSON carries it: shares with their as-of dates (ISO,
    the filer's), the public float in US dollars, and how the share count was estimated."""
    if figure is None:
        return None
    return {
        "float_shares": figure.float_shares,
        "float_basis": figure.float_basis,
        "shares_outstanding": figure.shares_outstanding,
        "shares_as_of": None if figure.shares_as_of is None else figure.shares_as_of.isoformat(),
        "public_float_usd": figure.public_float_usd,
        "float_as_of": None if figure.float_as_of is None else figure.float_as_of.isoformat(),
    }


def short_json(
    interest: ShortInterest | None, volume: ShortVolume | None, facts: RowFacts
) -> dict[str, object] | None:
    """A name's short interest (FINRA, as of its settlement date) and the latest day's short
    sale volume share (FINRA CNMS: short volume, not short interest), or None with neither."""
    if interest is None and volume is None:
        return None
    return {
        "short_interest_shares": None if interest is None else interest.short_shares,
        "settlement_date": None if interest is None else interest.settlement.isoformat(),
        "days_to_cover": None
        if interest is None or interest.days_to_cover is None
        else round(interest.days_to_cover, 2),
        "si_pct_of_float": None if facts.si_pct is None else round(facts.si_pct, 2),
        "short_volume_share": None
        if volume is None or volume.short_share is None
        else round(volume.short_share, 4),
        "short_volume_day": None if volume is None else volume.day.isoformat(),
    }


def filings_json(filings: Sequence[Filing]) -> list[dict[str, object]]:
    """The day's filings on a name, newest first: form, 8-K items, kind, acceptance time
    (ISO UTC), how many of that form the day has, the sec.gov index page."""
    return [
        {
            "form": f.form,
            "items": list(f.items),
            "kind": f.kind,
            "accepted_at": datetime.fromtimestamp(f.accepted_at, UTC).isoformat(),
            "count": f.count,
            "accession": f.accession,
            "url": f.url,
        }
        for f in filings
    ]


def snapshot_facts(snap: Snapshot, rows: Iterable[ScanRow]) -> dict[str, RowFacts]:
    """The float figures of `rows` as of the snapshot's read, by symbol."""
    return {r.symbol: row_facts(r.symbol, r.volume, snap.floats, snap.short_interest) for r in rows}


#: What each kind of filing is, in a few words (`filings.KINDS`).
KIND_WORDS = {
    "results": "results",
    "material": "material event",
    "news": "news",
    "offering": "offering: often ends a run",
    "ownership": "a 5% owner's stake",
    "insider": "insider trades",
    "other": "filing",
}


def filing_words(filing: Filing) -> str:
    """A filing in a few words: an 8-K's telling items' words ("results of operations"),
    else what its kind is to a trader ("offering: often ends a run")."""
    told = [ITEMS[i] for i in filing.items if i != "9.01" and i in ITEMS]
    if told:
        return "; ".join(told[:2])
    return KIND_WORDS.get(filing.kind, "filing")


def float_line(figure: FloatFigure | None, facts: RowFacts) -> str:
    """The card's float row: `4.20M shares (public float / recent close, as of 2026-06-30) ·
    12.3M outstanding (as of 2026-11-05) · rotation 2.3x today`; "" without a figure."""
    if figure is None:
        return ""
    parts = []
    if figure.float_shares:
        basis = figure.float_basis
        if figure.float_as_of is not None and "public float" in basis:
            basis += f", as of {figure.float_as_of.isoformat()}"
        parts.append(f"{fmt.count(figure.float_shares)} shares ({basis})")
    if figure.shares_outstanding:
        of = f" (as of {figure.shares_as_of.isoformat()})" if figure.shares_as_of else ""
        parts.append(f"{fmt.count(figure.shares_outstanding)} outstanding{of}")
    if facts.float_rotation is not None:
        parts.append(f"rotation {fmt.ratio(facts.float_rotation)} today")
    return " · ".join(parts) or "no share count reported"


def short_line(interest: ShortInterest | None, volume: ShortVolume | None, facts: RowFacts) -> str:
    """The card's short row: `SI 18.4% of float, 775K shares, 2.1 days to cover (settled
    2026-11-14) · short volume 41% on 2026-12-04`; "" with neither figure."""
    parts = []
    if interest is not None:
        text = f"{fmt.count(interest.short_shares)} shares short"
        if facts.si_pct is not None:
            text = f"SI {facts.si_pct:.1f}% of float, " + text
        if interest.days_to_cover is not None:
            text += f", {interest.days_to_cover:.1f} days to cover"
        parts.append(f"{text} (settled {interest.settlement.isoformat()})")
    if volume is not None and volume.short_share is not None:
        parts.append(f"short volume {volume.short_share:.0%} on {volume.day.isoformat()}")
    return " · ".join(parts)


def lead_json(lead: Lead | None) -> dict[str, object] | None:
    """Whether options activity led a name's price run or followed it, for the JSON: `first`
    "options" or "price", `gap_seconds` between them, each one's time (Unix seconds, market
    clock) and `text` as the row's mark shows it ("opt→px 35m")."""
    if lead is None:
        return None
    return {
        "first": lead.first,
        "gap_seconds": round(lead.gap_s, 1),
        "options_at": lead.options_at,
        "price_at": lead.price_at,
        "text": lead.text,
    }


def scaled_rvol(rvol: float | None, volume_before: int | None, volume: int | None) -> float | None:
    """RVol at the time of day after the day's volume moved from `volume_before` to `volume`
    (a streamed trade between reads of the store): the usual volume by now stays the one the
    store used, so the figure scales with the volume. None when it cannot be said."""
    if rvol is None or not volume_before or volume is None:
        return rvol
    return rvol * volume / volume_before
