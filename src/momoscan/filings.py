"""SEC filings as catalysts: the record the filings source makes, the store keeps and the
screens show, and what each 8-K item and form means to a trader.

Wire facts (see `sources/sec.py` for the parsers; ../reference public-feeds.md §3.4):
- EDGAR's current-filings Atom (`/cgi-bin/browse-edgar?action=getcurrent&output=atom`) has one
  entry per filing per entity; the accession number (`<id>`) is the filing's key. `<updated>`
  is the acceptance time with a real US/Eastern offset: the reliable timestamp.
- An 8-K lists its items (`Item 2.02: Results of Operations and Financial Condition`).

Stdlib only.
"""

from __future__ import annotations

from dataclasses import dataclass

#: What a filing is to a momentum trader (`Filing.kind`).
KINDS = ("results", "material", "news", "offering", "ownership", "insider", "other")


@dataclass(frozen=True, slots=True)
class Filing:
    """One filing on one company, mapped to a universe symbol.

    `accession` is EDGAR's accession number ("0001477932-26-005759"), the key; `cik` the
    company's (the Filer/Issuer/Subject entity, never a Reporting owner); `symbol` the
    universe symbol it maps to through the SEC's ticker map ("" when none); `form` as EDGAR
    gives it ("8-K", "8-K/A", "6-K", "S-1", "424B5", "SC 13D", "4"); `items` the 8-K items
    ("2.02", "9.01"), empty for other forms; `accepted_at` Unix seconds (UTC instant) of the
    acceptance; `company` the filer's name (cleaned of control characters); `url` the filing
    index page on sec.gov; `kind` one of `KINDS`; `count` how many filings of this form on this
    company the day has (Form 4 clusters: several insiders on one day).
    """

    accession: str
    cik: int
    symbol: str
    form: str
    items: tuple[str, ...]
    accepted_at: float
    company: str
    url: str
    kind: str = "other"
    count: int = 1
