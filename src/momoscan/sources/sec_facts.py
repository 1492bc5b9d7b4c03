"""SEC EDGAR's XBRL company facts: a company's reported shares outstanding and public float.

Wire facts (the team's research notes, reference/public-feeds.md 3.5, from a recorded AAPL
response; SEC's fair-access rule in 3.1 applies and is kept by `sources/sec.py`'s `SecHttp`):

`GET https://data.sec.gov/api/xbrl/companyfacts/CIK##########.json` (the CIK zero-padded to
10 digits) answers `{"cik": 320193 (an integer here), "entityName": str, "facts": {"dei":
{...}, "us-gaap": {...}}}`; each concept is `{"label", "description", "units": {unit: [fact,
...]}}` and each fact `{"end": "YYYY-MM-DD", "val": number, "accn": str, "fy", "fp", "form",
"filed": "YYYY-MM-DD", "frame"?}`. The whole answer is megabytes (3.7 MB for AAPL): fetched
rarely, parsed off the event loop.

- `dei:EntityCommonStockSharesOutstanding` (unit `shares`): the cover-page count as of `end`
  (a date near the filing), as reported (not split-adjusted). A multi-class issuer reports
  one fact per class with the same `accn` and `end` and no class dimension, so facts are
  summed per (accn, end) (INFERRED from the concept's description); an `end` filed twice (an
  original and an amendment) keeps the latest `filed`; the newest `end` is the figure.
- `dei:EntityPublicFloat` (unit `USD`): the market value held by non-affiliates as of the
  last business day of the second fiscal quarter, from the 10-K (so up to ~18 months old);
  read the same way (summed per (accn, end), newest end, latest filed).
- Small and foreign (20-F, IFRS) filers may lack either concept or `dei` altogether; a filer
  without XBRL answers 404 (UNVERIFIED). Neither is an error here: the figure is None.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

import httpx
import orjson

from ..sanitize import clean
from .errors import MalformedResponse
from .offload import THREADS, Offloader

log = logging.getLogger(__name__)

DEFAULT_FACTS_URL = "https://data.sec.gov/api/xbrl/companyfacts/"
FACTS = "SEC company facts"
SHARES_CONCEPT = "EntityCommonStockSharesOutstanding"
FLOAT_CONCEPT = "EntityPublicFloat"


@dataclass(frozen=True, slots=True)
class CompanyFacts:
    """What momoscan reads of one company's facts.

    `shares_outstanding` (shares) as of `shares_as_of`; `public_float_usd` (US dollars) as of
    `float_as_of`; None where the filer reports none (never 0). `found` is False when SEC has
    no facts for the CIK at all (404)."""

    cik: int
    name: str
    shares_outstanding: int | None
    shares_as_of: date | None
    public_float_usd: float | None
    float_as_of: date | None
    found: bool = True


class SecGetter(Protocol):
    """`SecHttp` (sources/sec.py) as this module uses it: one GET under SEC's fair-access
    rule (declared User-Agent, the process-wide request rate), raising its `SourceError`s."""

    async def get(self, url: str, *, what: str) -> httpx.Response: ...


def facts_url(base: str, cik: int) -> str:
    """The companyfacts URL of `cik` under `base` (the folder, `[sec] facts_url`)."""
    return f"{base.rstrip('/')}/CIK{cik:010d}.json"


def _day(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def _latest(facts: object) -> tuple[float, date] | None:
    """(value, as-of date) of a concept's facts in one unit: summed per (accn, end), the
    newest end, the latest filed when an end repeats; None without a usable fact."""
    if not isinstance(facts, list):
        return None
    groups: dict[tuple[str, date], list[Any]] = {}  # (accn, end) -> [sum, filed]
    for fact in facts:
        if not isinstance(fact, dict):
            continue
        end = _day(fact.get("end"))
        value = fact.get("val")
        if end is None or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        filed = _day(fact.get("filed")) or date.min
        key = (str(fact.get("accn", "")), end)
        group = groups.setdefault(key, [0.0, filed])
        group[0] += float(value)
        group[1] = max(group[1], filed)
    if not groups:
        return None
    (_, end), (total, _) = max(groups.items(), key=lambda kv: (kv[0][1], kv[1][1], kv[0][0]))
    return (total, end) if total > 0 else None


def _unit(dei: dict[str, Any], concept: str, unit: str) -> list[Any] | None:
    entry = dei.get(concept)
    if not isinstance(entry, dict):
        return None
    units = entry.get("units")
    if not isinstance(units, dict):
        return None
    facts = units.get(unit)
    return facts if isinstance(facts, list) else None


def parse_company_facts(body: bytes, cik: int) -> CompanyFacts:
    """Read one company's facts (module-level and picklable: it may run in a worker process).

    Returns:
        Its shares outstanding and public float with their as-of dates; None for a concept
        the filer does not report (no `dei` at all included).

    Raises:
        MalformedResponse: the body is not JSON (cut off on the way, say) or not an object;
            the message names the CIK.
    """
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise MalformedResponse(
            f"{FACTS} of CIK {cik}: the answer is not whole JSON ({len(body)} bytes; cut off "
            "on the way?); that company's figures are kept as they were."
        ) from None
    if not isinstance(doc, dict):
        raise MalformedResponse(f"{FACTS} of CIK {cik}: the answer is not a JSON object.")
    name = clean(str(doc.get("entityName") or "")).strip()
    facts = doc.get("facts")
    dei = facts.get("dei") if isinstance(facts, dict) else None
    if not isinstance(dei, dict):
        dei = {}
    shares = _latest(_unit(dei, SHARES_CONCEPT, "shares"))
    public = _latest(_unit(dei, FLOAT_CONCEPT, "USD"))
    return CompanyFacts(
        cik=cik,
        name=name,
        shares_outstanding=None if shares is None else round(shares[0]),
        shares_as_of=None if shares is None else shares[1],
        public_float_usd=None if public is None else public[0],
        float_as_of=None if public is None else public[1],
    )


class SecFactsClient:
    """Fetches companies' facts through the process's one `SecHttp` (its limiter and
    User-Agent), parsing off the event loop.

    Args:
        sec: the `SecHttp` every SEC request of the process goes through.
        facts_url: the folder of the `CIK##########.json` files (`[sec] facts_url`).
        not_found: the exception `sec.get` raises for a missing company (`SecNotFound`).
        offload: where the megabytes are parsed (a worker process for big ones).
    """

    def __init__(
        self,
        sec: SecGetter,
        *,
        facts_url: str = DEFAULT_FACTS_URL,
        not_found: type[Exception] | None = None,
        offload: Offloader = THREADS,
    ) -> None:
        self._sec = sec
        self.facts_url = facts_url
        if not_found is None:
            from .sec import SecNotFound

            not_found = SecNotFound
        self._not_found = not_found
        self._offload = offload
        #: CIKs whose missing facts or figures were logged (once each).
        self._told: set[int] = set()

    async def company(self, cik: int) -> CompanyFacts:
        """One company's figures.

        A company SEC has no facts for (404), or whose facts hold no shares figure or public
        float, gives None for those (logged once a CIK), never 0.

        Raises:
            MalformedResponse: the answer is cut off or not JSON (that company only).
            SourceError: what `SecHttp.get` raises (`SecBlocked` on a fair-access block,
                `SecUserAgentMissing`, 5xx and timeouts).
        """
        what = f"{FACTS} of CIK {cik}"
        try:
            response = await self._sec.get(facts_url(self.facts_url, cik), what=what)
        except Exception as exc:
            if not isinstance(exc, self._not_found):
                raise
            self._tell(cik, "SEC has no XBRL facts for it (404)")
            return CompanyFacts(cik, "", None, None, None, None, found=False)
        if response.status_code == 404:
            self._tell(cik, "SEC has no XBRL facts for it (404)")
            return CompanyFacts(cik, "", None, None, None, None, found=False)
        parse: Callable[[bytes, int], CompanyFacts] = parse_company_facts
        facts = await self._offload.run(parse, response.content, cik)
        if facts.shares_outstanding is None or facts.public_float_usd is None:
            missing = [
                label
                for label, value in (
                    ("shares outstanding", facts.shares_outstanding),
                    ("public float", facts.public_float_usd),
                )
                if value is None
            ]
            self._tell(cik, "its facts report no " + " nor ".join(missing))
        return facts

    def _tell(self, cik: int, why: str) -> None:
        if cik in self._told:
            return
        self._told.add(cik)
        log.info(
            "%s of CIK %d: %s; its float is shown as unknown where nothing stands in.",
            FACTS,
            cik,
            why,
        )
