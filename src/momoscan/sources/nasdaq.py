"""Nasdaq Data Link's SHARADAR/TICKERS as the scan universe, through the `nasdaq-data-link` package.

Wire facts (../shared/reference/market-data-apis.md, section 2): the package sends the key as the
`x-api-token` header, follows `qopts.cursor_id` with `paginate=True`, and raises
`LimitExceededError` after `ApiConfig.page_limit` (100) pages with the key inside the message.
Errors arrive as `{"quandl_error": {"code": "QEPx04", "message": ...}}`, and the letter after
`QE` picks the exception class. SHARADAR/TICKERS has one row per ticker and Sharadar table
(SF1, SEP, SFP), so the query asks for `table=SEP` and duplicates are still dropped.

The package keeps its settings in the process-wide `ApiConfig`, so every call sets them under a
lock and puts the previous values back. Nothing it says reaches a message or a log line without
the `Redactor` (the key as sent and URL-encoded), and no SourceError here chains the package's
exception, whose text may hold the key. Every string of the table's rows is cleaned
(`sanitize.clean`) as the rows are read: a company name holding escape sequences arrives as text.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import os
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import anyio.to_thread

from ..config import NASDAQ_KEY_ENV, Settings
from ..models import Ticker
from ..redact import Redactor
from ..sanitize import clean
from .errors import (
    AuthError,
    MalformedResponse,
    PermissionDenied,
    RateLimited,
    ServiceError,
    SourceError,
)

log = logging.getLogger(__name__)

TABLE_CODE = "SHARADAR/TICKERS"
#: The Sharadar table whose rows we keep: SEP is the equity price table, so its rows are the
#: tickers that trade as stocks (SF1 repeats them for fundamentals, SFP holds funds).
PRICE_TABLE = "SEP"
EXCHANGES: tuple[str, ...] = ("NYSE", "NASDAQ", "NYSEMKT")
#: Common stocks and ADRs only: no preferreds, warrants, funds, ETNs or Canadian listings.
#: Secondary classes (GOOG beside GOOGL) are left out so one company counts once. A candidate for
#: a config key.
CATEGORIES: tuple[str, ...] = (
    "Domestic Common Stock",
    "Domestic Common Stock Primary Class",
    "ADR Common Stock",
    "ADR Common Stock Primary Class",
)
COLUMNS: tuple[str, ...] = (
    "ticker",
    "name",
    "exchange",
    "category",
    "scalemarketcap",
    "sector",
    "table",
)
#: Sharadar's `scalemarketcap` strings and momoscan's tier words (models.CAP_TIERS).
SCALE_TO_TIER: dict[str, str] = {
    "1 - Nano": "nano",
    "2 - Micro": "micro",
    "3 - Small": "small",
    "4 - Mid": "mid",
    "5 - Large": "large",
    "6 - Mega": "mega",
}
TIER_TO_SCALE: dict[str, str] = {tier: scale for scale, tier in SCALE_TO_TIER.items()}
#: SHARADAR has no MIC; the chart links want one, and these three exchanges have a single MIC each.
EXCHANGE_MIC: dict[str, str] = {"NASDAQ": "XNAS", "NYSE": "XNYS", "NYSEMKT": "XASE"}

#: Fewer rows than this per requested tier means the key sees only the free sample (about the
#: Dow 30) rather than the real table (hundreds of names in every tier up to large). Mega has
#: only a few dozen real members, so it cannot tell the sample from the real thing and adds 0.
SAMPLE_FLOOR_PER_TIER: dict[str, int] = {
    "nano": 70,
    "micro": 70,
    "small": 70,
    "mid": 70,
    "large": 70,
    "mega": 0,
}

#: Retries of 5xx answers inside the package (urllib3). 429 is not retried: it means the key's
#: 10-minute or daily allowance is spent, seconds of retrying cannot help, and urllib3 would
#: sleep for as long as a Retry-After header says. 0 turns retries off (the tests do).
RETRIES = 3
RETRY_BACKOFF = 0.5
RETRY_MAX_WAIT = 8.0
RETRY_STATUS_CODES: tuple[int, ...] = tuple(range(500, 512))
#: The package passes no timeout to requests, so a silent server would hang the load forever.
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0

KEY_HINT = "set NASDAQ_DATA_LINK_API_KEY or [nasdaq] api_key in your config file"
OTHER_SOURCES = 'use [universe] source = "file" or the built-in list instead'

_BASE_DOMAIN_ENV = "NASDAQ_DATA_LINK_BASE_DOMAIN"
# ApiConfig and the patched Connection.get_session are process-wide; two loads at once would
# see each other's settings.
_CONFIG_LOCK = threading.Lock()
_IMPORT_LOCK = threading.Lock()


class _TooBig(Exception):
    """A query the package or the server refused for its size: split it and ask again."""


@dataclass(frozen=True)
class _Query:
    """One SHARADAR/TICKERS query: the fixed filters plus the exchanges and scales it covers."""

    exchanges: tuple[str, ...]
    scales: tuple[str, ...]

    def params(self) -> dict[str, Any]:
        # Lists become `key[]=...` and the dict `qopts.columns[]=...` in the package's GET.
        return {
            "table": PRICE_TABLE,
            "isdelisted": "N",
            "category": list(CATEGORIES),
            "exchange": list(self.exchanges),
            "scalemarketcap": list(self.scales),
            "qopts": {"columns": list(COLUMNS)},
        }

    def split(self) -> list[_Query]:
        """Smaller queries covering the same rows: per exchange first, then per tier."""
        if len(self.exchanges) > 1:
            return [replace(self, exchanges=(exchange,)) for exchange in self.exchanges]
        if len(self.scales) > 1:
            return [replace(self, scales=(scale,)) for scale in self.scales]
        return []

    def label(self) -> str:
        tiers = ", ".join(SCALE_TO_TIER[s] for s in self.scales)
        return f"{', '.join(self.exchanges)} ({tiers})"


class NasdaqUniverse:
    """Active US common stocks and ADRs in the configured cap tiers, from SHARADAR/TICKERS."""

    name = "nasdaq"

    def __init__(self, settings: Settings):
        self._api_key = settings.nasdaq.api_key
        self._api_base = settings.nasdaq.api_base.rstrip("/")
        self._redact = Redactor([*settings.secrets, self._api_key])
        self.tiers: tuple[str, ...] = tuple(
            tier for tier in settings.universe.cap_tiers if tier in TIER_TO_SCALE
        )
        #: A sentence for the user when the answer looks like the free sample; "" when fine.
        self.warning: str = ""

    def describe(self) -> str:
        # The tiers are part of the query, so they are part of what the engine's cache keys on.
        return f"Nasdaq Data Link SHARADAR/TICKERS ({', '.join(self.tiers)})"

    async def load(self) -> list[Ticker]:
        self.warning = ""
        if not self.tiers:
            raise SourceError(
                "No cap tier in [universe] cap_tiers is one Sharadar knows; "
                "use nano, micro, small, mid, large or mega."
            )
        # The package is blocking (requests, pandas); abandon_on_cancel lets a quitting app
        # leave a slow download behind instead of waiting for it.
        rows = await anyio.to_thread.run_sync(self._fetch, abandon_on_cancel=True)
        tickers = tickers_from_rows(rows)
        if not tickers:
            raise SourceError(
                f"Nasdaq Data Link returned no tickers from {TABLE_CODE} for the tiers "
                f"{', '.join(self.tiers)}; check [universe] cap_tiers or use [universe] "
                'source = "file".'
            )
        floor = sum(SAMPLE_FLOOR_PER_TIER[tier] for tier in self.tiers)
        if len(tickers) < floor:
            self.warning = (
                f"Nasdaq Data Link returned only {len(tickers)} tickers: your key seems to get "
                f"only the free sample of {TABLE_CODE}; subscribe to Sharadar for the full "
                'universe, or use [universe] source = "file".'
            )
            log.warning("%s", self.warning)
        log.info("Loaded %d tickers from %s", len(tickers), self.describe())
        return tickers

    async def probe(self, rows: int = 5) -> tuple[list[str], list[dict[str, str]]]:
        """One small page of the query `load` makes (at most `rows` rows), for `momoscan
        check`: (the columns the answer carried, the rows).

        Raises:
            SourceError: as `load` does, with one sentence and never the key.
        """
        return await anyio.to_thread.run_sync(self._probe, rows, abandon_on_cancel=True)

    # -- in the worker thread --------------------------------------------------------------------

    def _probe(self, rows: int) -> tuple[list[str], list[dict[str, str]]]:
        ndl = _import_package()
        query = _Query(EXCHANGES, tuple(TIER_TO_SCALE[tier] for tier in self.tiers))
        params = query.params()
        params["qopts"] = {**params["qopts"], "per_page": rows}
        error: Exception
        with _CONFIG_LOCK, _package_configured(ndl, self._api_key, self._api_base):
            try:
                with warnings.catch_warnings():
                    # "To request more pages, set paginate=True": one page is what we want.
                    warnings.simplefilter("ignore")
                    frame = ndl.get_table(TABLE_CODE, **params)
                return [str(c) for c in frame.columns], _records(frame)
            except SourceError:
                raise
            except Exception as exc:  # everything the package, requests or pandas may raise
                error = self._translate(ndl, exc)
        raise error

    def _fetch(self) -> list[dict[str, str]]:
        ndl = _import_package()
        query = _Query(EXCHANGES, tuple(TIER_TO_SCALE[tier] for tier in self.tiers))
        with _CONFIG_LOCK, _package_configured(ndl, self._api_key, self._api_base):
            return self._fetch_split(ndl, query)

    def _fetch_split(self, ndl: Any, query: _Query) -> list[dict[str, str]]:
        """The query's rows; a query too big for the package's page limit is asked in parts."""
        try:
            return self._fetch_one(ndl, query)
        except _TooBig:
            pass
        # Out of the except block, so an error from the smaller queries chains nothing.
        parts = query.split()
        if not parts:
            raise SourceError(
                f"{TABLE_CODE} for {query.label()} is too big to download even on its own; "
                'narrow [universe] cap_tiers or use [universe] source = "file".'
            )
        log.info(
            "%s for %s is over the download limit; asking in %d parts",
            TABLE_CODE,
            query.label(),
            len(parts),
        )
        rows: list[dict[str, str]] = []
        for part in parts:
            rows.extend(self._fetch_split(ndl, part))
        return rows

    def _fetch_one(self, ndl: Any, query: _Query) -> list[dict[str, str]]:
        error: Exception
        try:
            frame = ndl.get_table(TABLE_CODE, paginate=True, **query.params())
            return _records(frame)
        except SourceError:
            raise
        except Exception as exc:  # everything the package, requests or pandas may raise
            error = self._translate(ndl, exc)
        # Raised outside the except block so it has no __context__ either, not just no __cause__.
        raise error

    def _translate(self, ndl: Any, exc: Exception) -> Exception:
        """A SourceError with one sentence for the user (or _TooBig) for what the package raised."""
        import requests

        errors = ndl.errors.data_link_error
        status: int | None = getattr(exc, "http_status", None)
        code = str(getattr(exc, "data_link_error_code", None) or "")
        if isinstance(exc, errors.DataLinkError):
            log.debug(
                "%s answered HTTP %s, code %s: %s",
                TABLE_CODE,
                status,
                code or "none",
                self._clean(str(getattr(exc, "data_link_message", "") or "")),
            )
        else:
            log.debug("%s failed: %s", TABLE_CODE, self._clean(type(exc).__name__))

        if isinstance(exc, errors.LimitExceededError):
            # No HTTP status: the package's own page limit. 413 and 422: too much data or too
            # many rows for one query. Either way smaller queries can succeed.
            if status is None or status in (413, 414, 422):
                return _TooBig()
            return RateLimited(
                f"Nasdaq Data Link says your key's request allowance is used up "
                f"({code or status}); try again later or tomorrow."
            )
        if isinstance(exc, errors.AuthenticationError) or status == 401:
            return AuthError(f"Nasdaq Data Link rejected the API key; {KEY_HINT}.")
        if isinstance(exc, errors.ForbiddenError) or status == 403:
            return PermissionDenied(
                f"Your Nasdaq Data Link key has no access to {TABLE_CODE}, which needs a "
                f"Sharadar subscription; {OTHER_SOURCES}."
            )
        if isinstance(exc, errors.NotFoundError) or status == 404:
            return ServiceError(
                f"Nasdaq Data Link at {self._clean(self._api_base)} does not know {TABLE_CODE}; "
                "check [nasdaq] api_base."
            )
        if status == 429:
            return RateLimited(
                "Nasdaq Data Link says your key's request allowance is used up; "
                "try again later or tomorrow."
            )
        if isinstance(exc, errors.ServiceUnavailableError | errors.InternalServerError) or (
            status is not None and status >= 500
        ):
            return ServiceError(
                f"Nasdaq Data Link is failing (HTTP {status}); try again in a few minutes."
            )
        if isinstance(exc, errors.DataLinkError):
            # InvalidRequestError (QES...) and anything unforeseen: our query, their change.
            detail = self._clean(str(getattr(exc, "data_link_message", "") or ""))[:200]
            return SourceError(
                f"Nasdaq Data Link refused the {TABLE_CODE} query (HTTP {status}, "
                f"{code or 'no code'}: {detail.rstrip('.')}); try again later, and report it "
                "if it persists."
            )
        # requests.JSONDecodeError is a RequestException too: test it first.
        if isinstance(exc, requests.exceptions.JSONDecodeError):
            return _malformed()
        if isinstance(exc, requests.exceptions.Timeout):
            return ServiceError(
                "Nasdaq Data Link did not answer in time; check your connection and try again."
            )
        if isinstance(exc, requests.exceptions.RequestException):
            host = self._clean(urlsplit(self._api_base).netloc or self._api_base)
            return ServiceError(
                f"momoscan could not reach Nasdaq Data Link at {host}; check your internet "
                "connection or [nasdaq] api_base."
            )
        if isinstance(exc, KeyError | TypeError | ValueError | AttributeError | IndexError):
            return _malformed()
        log.warning("%s failed unexpectedly: %s", TABLE_CODE, self._clean(repr(exc)))
        return SourceError(
            f"Loading {TABLE_CODE} failed unexpectedly (the log file has the details); try "
            "again, and report it if it persists."
        )

    def _clean(self, text: str) -> str:
        """The package's or server's words, fit for a message: cleaned, the keys redacted."""
        return self._redact(clean(text))


def _malformed() -> MalformedResponse:
    return MalformedResponse(
        f"Nasdaq Data Link answered {TABLE_CODE} in an unexpected shape; try again later, and "
        "report it if it persists."
    )


def _records(frame: Any) -> list[dict[str, str]]:
    """The DataFrame's rows as plain dicts of strings ("" for missing: pandas gives NaN),
    each cleaned of escape sequences and control characters (`sanitize.clean`)."""
    if "ticker" not in frame.columns:
        raise _malformed()
    return [
        {
            clean(str(key)): clean(value).strip() if isinstance(value, str) else ""
            for key, value in row.items()
        }
        for row in frame.to_dict("records")
    ]


def tickers_from_rows(rows: list[dict[str, str]]) -> list[Ticker]:
    """Tickers from SHARADAR/TICKERS rows: one per symbol, in the rows' order.

    A symbol can come once per Sharadar table; the first row wins unless a later one is the SEP
    row (the stock's price-table entry), which replaces it in the first one's place.
    """
    chosen: dict[str, dict[str, str]] = {}
    for row in rows:
        symbol = row.get("ticker", "").upper()
        if not symbol:
            continue
        current = chosen.get(symbol)
        if current is None or (
            current.get("table") != PRICE_TABLE and row.get("table") == PRICE_TABLE
        ):
            chosen[symbol] = row
    return [_ticker(symbol, row) for symbol, row in chosen.items()]


def _ticker(symbol: str, row: dict[str, str]) -> Ticker:
    exchange = row.get("exchange", "")
    return Ticker(
        symbol=symbol,
        name=row.get("name", "") or symbol,
        exchange=exchange,  # as Sharadar writes it ("NYSEMKT", not "AMEX")
        mic=EXCHANGE_MIC.get(exchange.upper(), ""),
        cap_tier=SCALE_TO_TIER.get(row.get("scalemarketcap", ""), ""),
        sector=row.get("sector", ""),
        category=row.get("category", ""),
    )


def _import_package() -> Any:
    """`nasdaqdatalink`, imported on first use: it pulls in pandas, which costs every start."""
    with _IMPORT_LOCK:
        saved = {name: os.environ.get(name) for name in (NASDAQ_KEY_ENV, _BASE_DOMAIN_ENV)}
        # At import the package reads NASDAQ_DATA_LINK_API_KEY, else ~/.nasdaq/data_link_apikey,
        # and raises ValueError when either is empty (likewise an empty BASE_DOMAIN). We set the
        # key and base on every call anyway, so a placeholder keeps the import from failing.
        if not (saved[NASDAQ_KEY_ENV] or "").strip():
            os.environ[NASDAQ_KEY_ENV] = "momoscan-sets-the-key-per-request"
        base_domain = saved[_BASE_DOMAIN_ENV]
        if base_domain is not None and not base_domain.strip():
            del os.environ[_BASE_DOMAIN_ENV]
        try:
            return importlib.import_module("nasdaqdatalink")
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


@contextlib.contextmanager
def _package_configured(ndl: Any, api_key: str, api_base: str) -> Iterator[None]:
    """The package's global ApiConfig set for one load, then put back as it was."""
    config = ndl.ApiConfig
    wanted: dict[str, Any] = {
        "api_key": api_key,
        "api_base": api_base,
        "use_retries": RETRIES > 0,
        "number_of_retries": RETRIES,
        "retry_backoff_factor": RETRY_BACKOFF,
        "max_wait_between_retries": RETRY_MAX_WAIT,
        "retry_status_codes": list(RETRY_STATUS_CODES),
    }
    saved = {name: getattr(config, name) for name in wanted}
    connection = importlib.import_module("nasdaqdatalink.connection").Connection
    original_session = connection.__dict__.get("get_session")
    try:
        for name, value in wanted.items():
            setattr(config, name, value)
        if isinstance(original_session, classmethod):
            connection.get_session = classmethod(_with_timeout(original_session.__func__))
        yield
    finally:
        for name, value in saved.items():
            setattr(config, name, value)
        if original_session is not None:
            connection.get_session = original_session


def _with_timeout(make_session: Any) -> Any:
    """Wraps Connection.get_session so each session's requests carry our timeouts."""

    def get_session(cls: Any) -> Any:
        session = make_session(cls)
        session.request = functools.partial(
            session.request, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT)
        )
        return session

    return get_session
