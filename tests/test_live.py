"""Live mode, with every provider mocked by respx in its wire format (the simulated market's
server answers behind the mocks): the credit budget across restarts, the daily cap of the free
plan, market hours, and the key's secrecy."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import respx
from providers import CBOE, OCC, TD, Providers, options
from providers import live_settings as settings_for

from momoscan import market_hours as mh
from momoscan.cli import main
from momoscan.clock import FixedClock
from momoscan.config import Settings
from momoscan.runtime import open_runtime
from momoscan.store import Store

KEY = "TDKEY-live-secret-7f3a9"
OPEN_TIME = datetime(2026, 11, 20, 11, 30, tzinfo=mh.ET)


def live_settings() -> Settings:
    return settings_for(KEY)


@pytest.mark.anyio
async def test_live_refresh_over_the_wire_formats(tmp_path: Path) -> None:
    clock = FixedClock(OPEN_TIME)
    providers = Providers(clock)
    with providers.mock():
        async with open_runtime(live_settings(), options(tmp_path / "live.db")) as rt:
            assert rt.mode.name == "live"
            rt.engine.clock = clock
            report = await rt.engine.refresh(full=True)
    assert report.status in ("ok", "partial"), report.lines()
    assert report.quotes > 400 and report.chains >= 10 and report.occ_days == 21
    td = [r for r in providers.requests if str(r.url).startswith(TD)]
    assert td and all(r.headers["Authorization"] == f"apikey {KEY}" for r in td)
    assert not any(KEY in str(r.url) or "apikey=" in str(r.url) for r in providers.requests)
    # The plan was read from /api_usage, and no request was refused for credits.
    assert any(r.url.path == "/api_usage" for r in td)
    assert providers.server.meter.rejected == 0


@pytest.mark.anyio
async def test_a_restart_counts_the_previous_runs_credits(tmp_path: Path) -> None:
    clock = FixedClock(OPEN_TIME)
    providers = Providers(clock, plan_limit=1200)
    db = tmp_path / "live.db"
    with providers.mock():
        async with open_runtime(live_settings(), options(db)) as rt:
            rt.engine.clock = clock
            first = await rt.engine.refresh(full=False)
        spent = first.credits_used
        assert spent > 500
        async with open_runtime(live_settings(), options(db)) as rt:
            rt.engine.clock = clock
            await rt.engine.ensure_plan_limit()
            # The new run knows what the last one spent a moment ago (and the api_usage call).
            assert rt.engine.budget.used() >= spent
            assert rt.engine.budget.available() <= 1200 - spent
    with Store(db) as store:
        assert sum(credits for _, credits in store.credit_entries(0)) == spent


@pytest.mark.anyio
async def test_free_plan_daily_cap_is_respected_and_explained(tmp_path: Path) -> None:
    clock = FixedClock(OPEN_TIME)
    providers = Providers(clock, plan_limit=5000, daily_limit=250)
    with providers.mock():
        async with open_runtime(live_settings(), options(tmp_path / "live.db")) as rt:
            rt.engine.clock = clock
            first = await rt.engine.refresh(full=True)
            note = rt.engine.credit_note
            second = await rt.engine.refresh(full=True)
    # /api_usage took one credit of the 250: the sweep stops at what is left.
    assert first.credits_used == 249
    assert "Daily credits" in note and "249 left" in note
    assert second.credits_used == 0
    assert any("used up" in m for m in second.lines())
    assert providers.server.meter.rejected == 0


@pytest.mark.anyio
async def test_no_credits_spent_while_the_market_is_closed(tmp_path: Path) -> None:
    saturday = FixedClock(datetime(2026, 11, 21, 11, 0, tzinfo=mh.ET))
    providers = Providers(saturday)
    with providers.mock():
        async with open_runtime(live_settings(), options(tmp_path / "live.db")) as rt:
            rt.engine.clock = saturday
            report = await rt.engine.refresh()
            assert report.credits_used == 0
            assert any("market is closed" in m for m in report.lines())
            forced = await rt.engine.refresh(force=True)
            assert forced.credits_used > 0
    premarket = FixedClock(datetime(2026, 11, 20, 8, 0, tzinfo=mh.ET))
    providers = Providers(premarket)
    with providers.mock():
        async with open_runtime(live_settings(), options(tmp_path / "live2.db")) as rt:
            rt.engine.clock = premarket
            report = await rt.engine.refresh()
            assert report.credits_used == 0
            assert any("extended hours are off" in m for m in report.lines())
            settings = rt.engine.settings
            settings.twelvedata.extended_hours = True
            report = await rt.engine.refresh()
            assert report.credits_used > 0
    quote_calls = [r for r in providers.requests if r.url.path == "/quote"]
    assert quote_calls and all(r.url.params.get("prepost") == "true" for r in quote_calls)


def test_the_key_never_reaches_logs_database_or_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A revoked key: every Twelve Data answer is a 401 whose message could echo it back.
    def reject(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            401,
            json={"code": 401, "message": f"**apikey** {KEY} is incorrect", "status": "error"},
        )

    config = tmp_path / "config.toml"
    config.write_text(
        f'[twelvedata]\nbase_url = "{TD}"\n[cboe]\nbase_url = "{CBOE}"\n'
        f'[occ]\nbase_url = "{OCC}"\n[universe]\nsource = "builtin"\n'
    )
    monkeypatch.setenv("TWELVEDATA_API_KEY", KEY)
    db = tmp_path / "live.db"
    with respx.mock(assert_all_called=False) as router:
        router.route(url__startswith=TD).mock(side_effect=reject)
        router.route(url__startswith=CBOE).mock(return_value=httpx.Response(403))
        router.route(url__startswith=OCC).mock(return_value=httpx.Response(200, text="No data"))
        code = main(
            [
                "--config",
                str(config),
                "--db",
                str(db),
                "--headless",
                "--once",
                "--json",
                "--force",
                "-v",
            ]
        )
    captured = capsys.readouterr()
    assert code == 1
    assert "TWELVEDATA_API_KEY" in captured.err  # the sentence says where to set it
    assert KEY not in captured.out and KEY not in captured.err
    assert json.loads(captured.out)["refresh"]["status"] == "failed"
    for path in db.parent.iterdir():
        if path.name.startswith("live.db"):
            assert KEY.encode() not in path.read_bytes(), path
    from momoscan.runtime import log_path

    assert KEY not in log_path().read_text()
    logging.getLogger().handlers.clear()
