"""NasdaqUniverse against SHARADAR/TICKERS mocked at the requests layer (the package uses requests).

Every test's key is KEY, and every test checks it leaks nowhere: not in a message, a log line or
the warning. The package asks for `/datatables/SHARADAR/TICKERS` (no `.json`; it sends
`accept: application/json`), so the mocks match both spellings.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from momoscan.config import Settings
from momoscan.models import CAP_TIERS
from momoscan.sources import nasdaq
from momoscan.sources.errors import (
    AuthError,
    MalformedResponse,
    PermissionDenied,
    RateLimited,
    ServiceError,
    SourceError,
)
from momoscan.sources.nasdaq import NasdaqUniverse

KEY = "NDLKEY-abc123-SECRET"
BASE = "https://ndl.test/api/v3"
URL = re.compile(r"https://ndl\.test/api/v3/datatables/SHARADAR/TICKERS(\.json)?")
COLUMN_NAMES = ("ticker", "name", "exchange", "category", "scalemarketcap", "sector", "table")
COLUMNS = [{"name": name, "type": "String"} for name in COLUMN_NAMES]

Row = list[Any]


def row(
    ticker: str,
    name: str | None = None,
    exchange: str | None = "NASDAQ",
    category: str = "Domestic Common Stock",
    scale: str | None = "3 - Small",
    sector: str | None = "Technology",
    table: str = "SEP",
) -> Row:
    return [ticker, name if name is not None else f"{ticker} Inc", exchange, category, scale,
            sector, table]  # fmt: skip


def filler(prefix: str, count: int, exchange: str = "NYSE", scale: str = "4 - Mid") -> list[Row]:
    """`count` distinct plain rows, to lift a universe over the free-sample threshold."""
    return [row(f"{prefix}{i:03d}", exchange=exchange, scale=scale) for i in range(count)]


def page(rows: list[Row], cursor: str | None = None) -> dict[str, Any]:
    return {"datatable": {"data": rows, "columns": COLUMNS}, "meta": {"next_cursor_id": cursor}}


def error(code: str, message: str) -> dict[str, Any]:
    return {"quandl_error": {"code": code, "message": message}}


def params(call: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


@pytest.fixture
def settings() -> Settings:
    s = Settings()
    s.nasdaq.api_key = KEY
    s.nasdaq.api_base = BASE
    return s


@pytest.fixture(autouse=True)
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """No retries unless a test asks: the package would otherwise back off for seconds."""
    monkeypatch.setattr(nasdaq, "RETRIES", 0)


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def assert_no_key(*texts: str) -> None:
    for text in texts:
        assert KEY not in text
        assert "abc123" not in text


def assert_clean_error(err: BaseException, logs: pytest.LogCaptureFixture) -> None:
    """One sentence, no key, and nothing of the package's exception attached."""
    message = str(err)
    assert message.endswith(".") and "\n" not in message
    assert err.__cause__ is None
    assert err.__context__ is None
    assert_no_key(message, repr(err), logs.text)


def ndl() -> Any:
    return nasdaq._import_package()


# -- success ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_two_pages_make_one_universe(
    settings: Settings, mock: responses.RequestsMock, logs: pytest.LogCaptureFixture
) -> None:
    first = [
        row("AAPL", "Apple Inc", "NASDAQ", scale="5 - Large"),
        row("JPM", "JPMorgan Chase & Co", "NYSE", scale="5 - Large", sector="Financial Services"),
        row("DUP", "Dup from SF1", "NYSE", table="SF1"),
        row("TWICE", "Twice first", "NYSEMKT", scale="4 - Mid"),
        row("NOCAP", "No scale", "NASDAQ", scale=None, sector=None),
        *filler("F", 120),
    ]
    second = [
        row("DUP", "Dup from SEP", "NYSE"),
        row("TWICE", "Twice second", "NASDAQ"),
        row("IMKT", "Imperial", "NYSEMKT", category="ADR Common Stock"),
        *filler("G", 120, exchange="NASDAQ", scale="3 - Small"),
    ]
    mock.get(URL, json=page(first, "cursor-2"))
    mock.get(URL, json=page(second))

    universe = NasdaqUniverse(settings)
    tickers = await universe.load()

    assert len(mock.calls) == 2
    assert "qopts.cursor_id" not in params(mock.calls[0])
    assert params(mock.calls[1])["qopts.cursor_id"] == ["cursor-2"]

    by_symbol = {t.symbol: t for t in tickers}
    assert len(tickers) == len(by_symbol) == 5 + 120 + 1 + 120
    assert [t.symbol for t in tickers[:6]] == ["AAPL", "JPM", "DUP", "TWICE", "NOCAP", "F000"]
    apple = by_symbol["AAPL"]
    assert (apple.name, apple.exchange, apple.mic, apple.cap_tier, apple.sector) == (
        "Apple Inc",
        "NASDAQ",
        "XNAS",
        "large",
        "Technology",
    )
    assert apple.category == "Domestic Common Stock"
    assert (by_symbol["JPM"].mic, by_symbol["JPM"].sector) == ("XNYS", "Financial Services")
    # The SEP row replaces an earlier row from another table, in the earlier row's place.
    assert by_symbol["DUP"].name == "Dup from SEP"
    # Between two SEP rows the first wins.
    assert (by_symbol["TWICE"].name, by_symbol["TWICE"].mic) == ("Twice first", "XASE")
    assert by_symbol["TWICE"].exchange == "NYSEMKT"
    assert by_symbol["TWICE"].cap_tier == "mid"
    assert by_symbol["G000"].cap_tier == "small"
    assert by_symbol["IMKT"].category == "ADR Common Stock"
    # Nulls (pandas' NaN) become empty strings.
    assert (by_symbol["NOCAP"].cap_tier, by_symbol["NOCAP"].sector) == ("", "")
    assert universe.warning == ""
    assert_no_key(logs.text)


@pytest.mark.anyio
async def test_request_carries_the_filters_and_the_key_only_in_the_header(
    settings: Settings, mock: responses.RequestsMock, logs: pytest.LogCaptureFixture
) -> None:
    settings.universe.cap_tiers = ["small", "mid", "large"]
    mock.get(URL, json=page(filler("F", 300)))
    before = (ndl().ApiConfig.api_key, ndl().ApiConfig.api_base, ndl().ApiConfig.use_retries)
    session_before = vars(ndl().connection.Connection)["get_session"]

    await NasdaqUniverse(settings).load()

    (call,) = mock.calls
    query = params(call)
    assert query["table"] == ["SEP"]
    assert query["isdelisted"] == ["N"]
    assert query["scalemarketcap[]"] == ["3 - Small", "4 - Mid", "5 - Large"]
    assert query["exchange[]"] == ["NYSE", "NASDAQ", "NYSEMKT"]
    assert query["category[]"] == [
        "Domestic Common Stock",
        "Domestic Common Stock Primary Class",
        "ADR Common Stock",
        "ADR Common Stock Primary Class",
    ]
    assert set(query["qopts.columns[]"]) >= {"ticker", "name", "exchange", "scalemarketcap"}
    assert call.request.headers["x-api-token"] == KEY
    assert KEY not in call.request.url
    assert "api_key" not in call.request.url
    # The package passes no timeout; ours rides along.
    assert call.request.req_kwargs["timeout"] == (nasdaq.CONNECT_TIMEOUT, nasdaq.READ_TIMEOUT)
    # The package's global settings are put back.
    after = (ndl().ApiConfig.api_key, ndl().ApiConfig.api_base, ndl().ApiConfig.use_retries)
    assert after == before
    assert vars(ndl().connection.Connection)["get_session"] is session_before
    assert_no_key(logs.text)


@pytest.mark.anyio
async def test_tiers_follow_the_config(settings: Settings, mock: responses.RequestsMock) -> None:
    settings.universe.cap_tiers = ["micro", "mega"]
    mock.get(URL, json=page(filler("F", 100, scale="2 - Micro")))

    universe = NasdaqUniverse(settings)
    tickers = await universe.load()

    assert params(mock.calls[0])["scalemarketcap[]"] == ["2 - Micro", "6 - Mega"]
    assert {t.cap_tier for t in tickers} == {"micro"}
    assert "micro, mega" in universe.describe()
    assert universe.warning == ""  # 100 rows is a plausible micro + mega universe


def test_tier_names_match_the_models() -> None:
    assert list(nasdaq.SCALE_TO_TIER.values()) == list(CAP_TIERS)
    assert set(nasdaq.SAMPLE_FLOOR_PER_TIER) == set(CAP_TIERS)


@pytest.mark.anyio
async def test_date_columns_and_extra_columns_survive_pandas(
    settings: Settings, mock: responses.RequestsMock
) -> None:
    """The package turns Date columns into datetimes with pandas; check that works here."""
    columns = [*COLUMNS, {"name": "lastupdated", "type": "Date"}]
    rows = [[*r, "2024-12-31" if i % 2 else None] for i, r in enumerate(filler("F", 250))]
    mock.get(
        URL,
        json={"datatable": {"data": rows, "columns": columns}, "meta": {"next_cursor_id": None}},
    )

    tickers = await NasdaqUniverse(settings).load()

    assert len(tickers) == 250
    assert tickers[0].symbol == "F000"


# -- the free sample -------------------------------------------------------------------------


@pytest.mark.anyio
async def test_free_sample_is_kept_with_a_warning(
    settings: Settings, mock: responses.RequestsMock, logs: pytest.LogCaptureFixture
) -> None:
    mock.get(URL, json=page(filler("S", 28, scale="6 - Mega")))

    universe = NasdaqUniverse(settings)
    tickers = await universe.load()

    assert len(tickers) == 28
    assert universe.warning.startswith("Nasdaq Data Link returned only 28 tickers: ")
    assert "free sample" in universe.warning
    assert 'source = "file"' in universe.warning
    warnings = [r for r in logs.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings] == [universe.warning]
    assert_no_key(universe.warning, logs.text)


@pytest.mark.anyio
async def test_warning_clears_on_the_next_full_load(
    settings: Settings, mock: responses.RequestsMock
) -> None:
    mock.get(URL, json=page(filler("S", 28)))
    universe = NasdaqUniverse(settings)
    await universe.load()
    assert universe.warning

    mock.replace(responses.GET, URL, json=page(filler("F", 400)))
    await universe.load()
    assert universe.warning == ""


@pytest.mark.anyio
async def test_no_rows_at_all_is_an_error(
    settings: Settings, mock: responses.RequestsMock, logs: pytest.LogCaptureFixture
) -> None:
    mock.get(URL, json=page([]))

    with pytest.raises(SourceError, match="returned no tickers") as info:
        await NasdaqUniverse(settings).load()
    assert_clean_error(info.value, logs)


# -- errors ----------------------------------------------------------------------------------


def _status(
    status: int, body: dict[str, Any] | str, headers: dict[str, str] | None = None
) -> Callable[[responses.RequestsMock], None]:
    def register(mock: responses.RequestsMock) -> None:
        if isinstance(body, str):
            mock.get(URL, status=status, body=body, headers=headers, content_type="text/html")
        else:
            mock.get(URL, status=status, json=body, headers=headers)

    return register


def _raises(exc: Exception) -> Callable[[responses.RequestsMock], None]:
    def register(mock: responses.RequestsMock) -> None:
        mock.get(URL, body=exc)

    return register


ERROR_CASES = {
    "403 no permission": (
        _status(403, error("QEPx04", "You do not have permission to view this dataset.")),
        PermissionDenied,
        "Your Nasdaq Data Link key has no access to SHARADAR/TICKERS, which needs a Sharadar "
        'subscription; use [universe] source = "file" or the built-in list instead.',
    ),
    "429 daily limit": (
        _status(429, error("QELx01", "You have exceeded the API speed limit of 50000/day.")),
        RateLimited,
        "try again later or tomorrow.",
    ),
    "400 unknown key": (
        _status(400, error("QEAx01", f"We could not recognize your API key: {KEY}.")),
        AuthError,
        "Nasdaq Data Link rejected the API key; set NASDAQ_DATA_LINK_API_KEY or [nasdaq] "
        "api_key in your config file.",
    ),
    "401 without a body": (_status(401, "<html>Unauthorized</html>"), AuthError, "API key"),
    "503 unavailable": (
        _status(503, error("QEXx01", "Service unavailable.")),
        ServiceError,
        "try again in a few minutes.",
    ),
    "502 gateway html": (
        _status(502, "<html>Bad gateway</html>"),
        ServiceError,
        "HTTP 502",
    ),
    "500 internal": (_status(500, error("QEMx01", "Oops.")), ServiceError, "HTTP 500"),
    "404 wrong table": (
        _status(404, error("QECx02", "You have submitted an incorrect datatable code.")),
        ServiceError,
        "check [nasdaq] api_base.",
    ),
    "422 bad query echoing the key": (
        _status(422, error("QESx08", f"Column cusips is not filterable ({KEY})")),
        SourceError,
        "QESx08",
    ),
    "200 not json": (_status(200, "<html>maintenance</html>"), MalformedResponse, "shape"),
    "200 wrong json": (_status(200, {"unexpected": True}), MalformedResponse, "shape"),
    "connection refused": (
        _raises(requests.exceptions.ConnectionError(f"refused {BASE}?x={KEY}")),
        ServiceError,
        "could not reach Nasdaq Data Link at ndl.test",
    ),
    "timeout": (
        _raises(requests.exceptions.ReadTimeout("read timed out")),
        ServiceError,
        "did not answer in time",
    ),
}


@pytest.mark.anyio
@pytest.mark.parametrize("case", list(ERROR_CASES), ids=list(ERROR_CASES))
async def test_errors_become_one_sentence_without_the_key(
    case: str,
    settings: Settings,
    mock: responses.RequestsMock,
    logs: pytest.LogCaptureFixture,
) -> None:
    register, kind, text = ERROR_CASES[case]
    register(mock)
    before = ndl().ApiConfig.api_key

    with pytest.raises(SourceError) as info:
        await NasdaqUniverse(settings).load()

    assert type(info.value) is kind
    assert text in str(info.value)
    assert_clean_error(info.value, logs)
    assert ndl().ApiConfig.api_key == before


@pytest.mark.anyio
async def test_5xx_is_retried(
    settings: Settings, mock: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(nasdaq, "RETRIES", 2)
    monkeypatch.setattr(nasdaq, "RETRY_BACKOFF", 0.0)
    mock.get(URL, status=503, json=error("QEXx01", "Service unavailable."))
    mock.get(URL, json=page(filler("F", 300)))

    tickers = await NasdaqUniverse(settings).load()

    assert len(tickers) == 300
    assert len(mock.calls) == 2


@pytest.mark.anyio
async def test_429_is_not_retried(
    settings: Settings, mock: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(nasdaq, "RETRIES", 2)
    monkeypatch.setattr(nasdaq, "RETRY_BACKOFF", 0.0)
    mock.get(URL, status=429, json=error("QELx04", "Too many requests in 10 minutes."))
    mock.get(URL, json=page(filler("F", 300)))

    with pytest.raises(RateLimited):
        await NasdaqUniverse(settings).load()
    assert len(mock.calls) == 1


# -- too big for one query -------------------------------------------------------------------


def _paged_by_exchange(
    per_cell: int, *, big: Callable[[dict[str, list[str]]], bool]
) -> Callable[[Any], tuple[int, dict[str, str], str]]:
    """A server with `per_cell` rows per exchange and tier; `big` queries come in two pages."""
    import json

    PREFIX = {"NYSE": "N", "NASDAQ": "Q", "NYSEMKT": "A"}

    def callback(request: Any) -> tuple[int, dict[str, str], str]:
        query = parse_qs(urlsplit(request.url).query)
        exchanges = query["exchange[]"]
        scales = query["scalemarketcap[]"]
        rows = [
            row(f"{PREFIX[exchange]}{scale[0]}{i:02d}", exchange=exchange, scale=scale)
            for exchange in exchanges
            for scale in scales
            for i in range(per_cell)
        ]
        if big(query):
            if "qopts.cursor_id" not in query:
                return 200, {}, json.dumps(page(rows[: len(rows) // 2], "more"))
            return 200, {}, json.dumps(page(rows[len(rows) // 2 :]))
        return 200, {}, json.dumps(page(rows))

    return callback


@pytest.mark.anyio
async def test_page_limit_falls_back_to_one_query_per_exchange(
    settings: Settings,
    mock: responses.RequestsMock,
    monkeypatch: pytest.MonkeyPatch,
    logs: pytest.LogCaptureFixture,
) -> None:
    # One page allowed: the two-page query overflows, the one-page queries do not.
    monkeypatch.setattr(ndl().ApiConfig, "page_limit", 1)
    mock.add_callback(
        responses.GET,
        URL,
        callback=_paged_by_exchange(31, big=lambda q: len(q["exchange[]"]) > 1),
    )

    universe = NasdaqUniverse(settings)
    tickers = await universe.load()

    exchanges = [params(call)["exchange[]"] for call in mock.calls]
    assert exchanges == [
        ["NYSE", "NASDAQ", "NYSEMKT"],
        ["NYSE", "NASDAQ", "NYSEMKT"],
        ["NYSE"],
        ["NASDAQ"],
        ["NYSEMKT"],
    ]
    assert {t.exchange for t in tickers} == {"NYSE", "NASDAQ", "NYSEMKT"}
    assert len(tickers) == 3 * 3 * 31
    assert universe.warning == ""
    assert "asking in 3 parts" in logs.text
    assert_no_key(logs.text)


@pytest.mark.anyio
async def test_page_limit_splits_per_tier_when_an_exchange_is_too_big(
    settings: Settings, mock: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ndl().ApiConfig, "page_limit", 1)
    mock.add_callback(
        responses.GET,
        URL,
        callback=_paged_by_exchange(
            31,
            big=lambda q: (
                len(q["exchange[]"]) > 1
                or (q["exchange[]"] == ["NASDAQ"] and len(q["scalemarketcap[]"]) > 1)
            ),
        ),
    )

    tickers = await NasdaqUniverse(settings).load()

    nasdaq_scales = [
        params(call)["scalemarketcap[]"]
        for call in mock.calls
        if params(call)["exchange[]"] == ["NASDAQ"]
    ]
    assert nasdaq_scales[-3:] == [["3 - Small"], ["4 - Mid"], ["5 - Large"]]
    assert len(tickers) == 3 * 3 * 31


@pytest.mark.anyio
async def test_page_limit_everywhere_is_an_error_without_the_key(
    settings: Settings,
    mock: responses.RequestsMock,
    monkeypatch: pytest.MonkeyPatch,
    logs: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(ndl().ApiConfig, "page_limit", 1)
    mock.add_callback(responses.GET, URL, callback=_paged_by_exchange(31, big=lambda q: True))

    with pytest.raises(SourceError, match="too big") as info:
        await NasdaqUniverse(settings).load()

    assert_clean_error(info.value, logs)


@pytest.mark.anyio
async def test_too_many_rows_from_the_server_also_splits(
    settings: Settings, mock: responses.RequestsMock, logs: pytest.LogCaptureFixture
) -> None:
    """QELx06 (422, too many rows) is a LimitExceededError too, but not a rate limit."""
    mock.get(URL, status=422, json=error("QELx06", "Too many rows."))
    mock.get(URL, json=page(filler("N", 100, exchange="NYSE")))
    mock.get(URL, json=page(filler("Q", 100, exchange="NASDAQ")))
    mock.get(URL, json=page(filler("A", 100, exchange="NYSEMKT")))

    tickers = await NasdaqUniverse(settings).load()

    assert len(tickers) == 300
    assert [params(c)["exchange[]"] for c in mock.calls][1:] == [["NYSE"], ["NASDAQ"], ["NYSEMKT"]]
    assert_no_key(logs.text)


# -- the import ------------------------------------------------------------------------------


def test_import_is_lazy_and_survives_an_empty_key_variable(tmp_path: Path) -> None:
    """An empty NASDAQ_DATA_LINK_API_KEY (or key file) makes the package raise at import."""
    home = tmp_path / "home"
    (home / ".nasdaq").mkdir(parents=True)
    (home / ".nasdaq" / "data_link_apikey").write_text("\n")
    script = (
        "import os, sys\n"
        "import momoscan.sources.nasdaq as n\n"
        "assert 'nasdaqdatalink' not in sys.modules and 'pandas' not in sys.modules\n"
        "n._import_package()\n"
        "assert 'nasdaqdatalink' in sys.modules\n"
        "assert os.environ['NASDAQ_DATA_LINK_API_KEY'] == ''\n"
        "assert 'NASDAQ_DATA_LINK_BASE_DOMAIN' in os.environ\n"
        "print('ok')\n"
    )
    env = {
        "HOME": str(home),
        "PATH": "/usr/bin:/bin",
        "NASDAQ_DATA_LINK_API_KEY": "",
        "NASDAQ_DATA_LINK_BASE_DOMAIN": "",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_describe_names_the_table(settings: Settings) -> None:
    assert NasdaqUniverse(settings).describe().startswith("Nasdaq Data Link SHARADAR/TICKERS")
    assert NasdaqUniverse(settings).name == "nasdaq"
