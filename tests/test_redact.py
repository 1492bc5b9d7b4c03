"""Secrets never leave (issue 24, item 6): a key a server echoes back, in any form, reaches no
error, no `--json`, no stderr line, no `refresh_runs` row and no log line."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import pytest
import respx
from providers import CBOE, OCC, TD

from momoscan.cli import main
from momoscan.config import Settings
from momoscan.redact import MASK, RedactingFilter, Redactor
from momoscan.sources.errors import AuthError, MalformedResponse, RateLimited
from momoscan.sources.twelvedata import TwelveDataClient

KEY = "TDkey/with+odd=chars-7f3a9"
NDL_KEY = "NDLkey-2b8c1d"
#: As sent, percent-encoded (upper- and lower-case hex), form-encoded, with "/" left alone.
FORMS = (
    KEY,
    quote(KEY, safe=""),
    "TDkey%2fwith%2bodd%3dchars-7f3a9",
    quote_plus(KEY),
    quote(KEY),
)


def echo(status: int) -> httpx.Response:
    """Twelve Data's error envelope, its message echoing the key in every form."""
    message = f"**apikey** {KEY} / {' '.join(FORMS[1:])} is not valid \x1b]52;c;aGk=\x07"
    return httpx.Response(status, json={"code": status, "message": message, "status": "error"})


def assert_no_key(text: str) -> None:
    for form in {*FORMS, NDL_KEY}:
        assert form not in text, (form, text)
    assert "7f3a9" not in text and "\x1b" not in text


def test_every_form_of_every_secret_is_masked() -> None:
    redact = Redactor([KEY, NDL_KEY, None, "", "abc"])
    assert redact.secrets == (KEY, NDL_KEY)  # empty and too-short keys are not secrets
    for form in FORMS:
        assert redact(f"url?apikey={form}&x=1") == f"url?apikey={MASK}&x=1"
    assert redact(f"{NDL_KEY}{KEY}") == MASK + MASK
    assert redact("abc nothing here") == "abc nothing here"
    assert KEY not in repr(redact) and not Redactor([]) and redact
    assert Redactor.from_settings(settings()).secrets == (KEY, NDL_KEY)


def settings() -> Settings:
    s = Settings()
    s.twelvedata.api_key = KEY
    s.nasdaq.api_key = NDL_KEY
    return s


def test_the_log_filter_masks_messages_arguments_and_tracebacks() -> None:
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Keep()
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(RedactingFilter(Redactor.from_settings(settings())))
    log = logging.getLogger("test_redact")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("GET %s failed", f"https://td.test/quote?apikey={quote(KEY, safe='')}")
        try:
            raise httpx.ConnectError(f"cannot reach https://td.test/?apikey={KEY}")
        except httpx.ConnectError:
            log.exception("request failed for %s", NDL_KEY)
        log.warning("stack", stack_info=True, extra={})
    finally:
        log.removeHandler(handler)
    assert len(records) == 3
    assert "apikey=***" in records[0] and "ConnectError" in records[1]
    for text in records:
        assert_no_key(text)


# -- through the real client -----------------------------------------------------------------


async def no_sleep(_seconds: float) -> None:
    return None


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "error"), [(400, MalformedResponse), (401, AuthError), (429, RateLimited)]
)
async def test_the_client_redacts_an_echoed_key(status: int, error: type[Exception]) -> None:
    with respx.mock() as router:
        route = router.get(f"{TD}/quote").mock(return_value=echo(status))
        router.get(f"{TD}/api_usage").mock(return_value=echo(status))
        async with httpx.AsyncClient() as http:
            client = TwelveDataClient(
                http, KEY, base_url=TD, sleep=no_sleep, secrets=[NDL_KEY], wall_clock=lambda: 0.0
            )
            with pytest.raises(error) as raised:
                await client.quote_batch(["AAPL"])
            assert_no_key(str(raised.value))
            with pytest.raises(error) as raised:
                await client.api_usage()
            assert_no_key(str(raised.value))
    assert route.calls.last.request.headers["Authorization"] == f"apikey {KEY}"
    if status == 400:  # the server's words are kept, less the key and the escape sequence
        assert str(raised.value).startswith("Twelve Data error 400: apikey *** / *** ")


@pytest.mark.anyio
async def test_a_refused_symbols_message_is_redacted_too() -> None:
    body = {
        "AAPL": {"code": 400, "message": f"symbol refused for key {KEY}", "status": "error"},
        "MSFT": {"code": 400, "message": f"refused for {quote_plus(KEY)}", "status": "error"},
    }
    with respx.mock() as router:
        router.get(f"{TD}/quote").mock(return_value=httpx.Response(200, json=body))
        async with httpx.AsyncClient() as http:
            batch = await TwelveDataClient(http, KEY, base_url=TD).quote_batch(["AAPL", "MSFT"])
    assert [e.message for e in batch.errors] == [
        "symbol refused for key ***",
        "refused for ***",
    ]


# -- through the headless CLI: --json, stderr, refresh_runs, the log file --------------------


@pytest.mark.parametrize("status", [400, 401, 429])
@pytest.mark.parametrize("json_out", [True, False])
def test_the_headless_cli_never_shows_an_echoed_key(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    status: int,
    json_out: bool,
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[twelvedata]\nbase_url = "{TD}"\n[cboe]\nbase_url = "{CBOE}"\n'
        f'[occ]\nbase_url = "{OCC}"\n[universe]\nsource = "builtin"\n'
    )
    monkeypatch.setenv("TWELVEDATA_API_KEY", KEY)
    monkeypatch.setenv("NASDAQ_DATA_LINK_API_KEY", NDL_KEY)
    db = tmp_path / "live.db"
    with respx.mock(assert_all_called=False) as router:
        td = router.route(url__startswith=TD).mock(side_effect=lambda _r: echo(status))
        router.route(url__startswith=CBOE).mock(return_value=httpx.Response(403))
        router.route(url__startswith=OCC).mock(return_value=httpx.Response(200, text="No data"))
        args = ["--config", str(config), "--db", str(db), "--headless", "--once", "--force"]
        code = main([*args, *(["--json"] if json_out else []), "-v"])
    out, err = capsys.readouterr()
    assert td.called and code == 1
    assert_no_key(out)
    assert_no_key(err)
    assert "Twelve Data" in err  # the failure is said, without the key
    if json_out:
        doc = json.loads(out)
        assert doc["refresh"]["status"] == "failed"
        assert_no_key(json.dumps(doc, ensure_ascii=False))
    with sqlite3.connect(db) as conn:
        runs = conn.execute("SELECT status, message FROM refresh_runs").fetchall()
    assert runs and all(status == "failed" for status, _ in runs)
    for _, message in runs:
        assert_no_key(message or "")
    for path in tmp_path.iterdir():
        if path.name.startswith("live.db"):
            data = path.read_bytes()
            assert all(form.encode() not in data for form in FORMS), path
    from momoscan.runtime import log_path

    assert_no_key(log_path().read_text())
    logging.getLogger().handlers.clear()
