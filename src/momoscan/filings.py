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


#: 8-K items, in a trader's words (the item titles are the SEC's Form 8-K General Instructions,
#: "Items to be included in reports"; e.g. "Item 2.02: Results of Operations and Financial
#: Condition" as the current-filings feed writes them, public-feeds.md §3.4).
ITEMS: dict[str, str] = {
    "1.01": "material agreement",
    "1.02": "agreement ended",
    "1.03": "bankruptcy",
    "1.04": "mine safety",
    "1.05": "cybersecurity incident",
    "2.01": "acquisition or sale done",
    "2.02": "results",
    "2.03": "new debt",
    "2.04": "debt accelerated",
    "2.05": "exit or layoff costs",
    "2.06": "impairment",
    "3.01": "delisting notice",
    "3.02": "unregistered sales (dilution)",
    "3.03": "holders' rights changed",
    "4.01": "auditor change",
    "4.02": "restatement",
    "5.01": "change in control",
    "5.02": "officer change",
    "5.03": "charter or bylaws amended",
    "5.04": "benefit plan blackout",
    "5.05": "code of ethics change",
    "5.06": "shell status change",
    "5.07": "shareholder vote",
    "5.08": "director nominations",
    "6.01": "ABS information",
    "6.02": "ABS servicer change",
    "6.03": "ABS credit enhancement change",
    "6.04": "ABS missed distribution",
    "6.05": "ABS securities act update",
    "7.01": "Reg FD (news)",
    "8.01": "other events (news)",
    "9.01": "exhibits",
}

#: The kind an 8-K item makes a filing, most telling first: the first of these an 8-K lists
#: decides its kind and its label. Results move a name most; a sale of unregistered shares is
#: a financing (dilution, which often ends a run) even beside the agreement (1.01) it comes
#: with; a press release comes under 7.01 or 8.01. Items not listed (5.02, 5.07, 9.01 ...)
#: make an "other" filing.
_TELLING: tuple[tuple[str, str], ...] = (
    ("2.02", "results"),
    ("1.03", "material"),
    ("3.01", "material"),
    ("3.02", "offering"),
    ("1.01", "material"),
    ("2.01", "material"),
    ("5.01", "material"),
    ("4.02", "material"),
    ("1.05", "material"),
    ("1.02", "material"),
    ("2.06", "material"),
    ("2.03", "material"),
    ("2.04", "material"),
    ("3.03", "material"),
    ("7.01", "news"),
    ("8.01", "news"),
)
_TELLING_KIND = dict(_TELLING)
#: The times sign of a cluster's count ("Form 4 \u00d73").
TIMES = "\u00d7"

#: Registration statements and prospectuses: shares for sale, which often ends a run.
_OFFERING_FORMS = frozenset({"S-1", "S-3", "F-1", "F-3", "S-1MEF", "S-3MEF", "F-1MEF", "F-3MEF"})
#: Beneficial ownership over 5 % (Schedules 13D and 13G, under both names EDGAR has used).
_OWNERSHIP_FORMS = frozenset({"SC 13D", "SC 13G", "SCHEDULE 13D", "SCHEDULE 13G"})
#: Insiders' own statements (Forms 3, 4 and 5); Form 4 is the one filed within two days of a
#: trade, and several on one company in a day are a cluster.
_INSIDER_FORMS = frozenset({"3", "4", "5"})


def base_form(form: str) -> str:
    """The form without its amendment mark: "8-K/A" gives "8-K", "SC 13D/A" "SC 13D"."""
    form = form.strip().upper()
    return form[:-2] if form.endswith("/A") else form


def telling_item(items: tuple[str, ...] | list[str]) -> str | None:
    """The 8-K item that says most of `items` (see `_TELLING`), else the first item that is
    not 9.01 (exhibits), else the first; None when there are none."""
    for item, _ in _TELLING:
        if item in items:
            return item
    rest = [i for i in items if i != "9.01"]
    return rest[0] if rest else (items[0] if items else None)


def kind_of(form: str, items: tuple[str, ...] | list[str] = ()) -> str:
    """What a filing is to a momentum trader, one of `KINDS`.

    An 8-K (or 8-K/A) by its most telling item (2.02 "results"; 1.01, 1.03, 2.01, 3.01 ...
    "material"; 3.02 "offering"; 7.01 and 8.01 "news"; else "other"); a 6-K (a foreign
    issuer's report, most often a press release) "news"; S-1, S-3, F-1, F-3 and 424B*
    prospectuses "offering"; Schedules 13D and 13G "ownership"; Forms 3, 4 and 5 "insider";
    periodic reports (10-Q, 10-K) and the rest "other".
    """
    base = base_form(form)
    if base == "8-K":
        item = telling_item(items)
        return _TELLING_KIND.get(item or "", "other")
    if base == "6-K":
        return "news"
    if base in _OFFERING_FORMS or base.startswith("424B"):
        return "offering"
    if base in _OWNERSHIP_FORMS:
        return "ownership"
    if base in _INSIDER_FORMS:
        return "insider"
    return "other"


def label(f: Filing) -> str:
    """The filing in a few characters: "8-K 2.02" (the most telling item), "8-K/A 1.01",
    "6-K", "S-1", "424B5", "SC 13D", "Form 4", and "Form 4 \u00d73" (a times sign) for a
    day's cluster."""
    form = f.form.strip()
    text = f"Form {form}" if base_form(form) in _INSIDER_FORMS else form
    if base_form(form) == "8-K":
        item = telling_item(f.items)
        if item:
            text = f"{text} {item}"
    return f"{text} {TIMES}{f.count}" if f.count > 1 else text


def describe(f: Filing) -> str:
    """The label and what its items mean: "8-K 2.02 results, exhibits"."""
    words = [ITEMS[i] for i in f.items if i in ITEMS]
    return f"{label(f)} {', '.join(words)}" if words else label(f)


def catalyst_text(f: Filing, now: float) -> str:
    """A row's catalyst mark: the label and how long ago it was accepted, "8-K 2.02 · 14m"
    (`now` and `Filing.accepted_at` in Unix seconds)."""
    from .format import age

    return f"{label(f)} · {age(now - f.accepted_at)}"
