"""The live path over a real socket: momoscan's live clients against the simulated providers
served on 127.0.0.1, every fault on, trickled bodies really trickled. What respx cannot show:
httpx's own timeouts, connection handling and retries, end to end."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from momoscan import market_hours as mh
from momoscan.cli import main
from momoscan.clock import FixedClock
from momoscan.simulated.faults import FaultPlan
from momoscan.simulated.http_server import ProviderServer

NOW = datetime(2026, 11, 20, 11, 30, tzinfo=mh.ET)
KEY = "loopback-key-5678"
#: Every fault, trickles more often than by default and for 6 s, against 1.5 s deadlines.
FAULTS = "all,td_trickle=0.1,cboe_trickle=0.1,trickle_delay=0.2,trickle_seconds=6"

Providers = Callable[[str], ProviderServer]


@pytest.fixture
def providers(monkeypatch: pytest.MonkeyPatch) -> Providers:
    monkeypatch.setattr("momoscan.runtime.RealClock", lambda: FixedClock(NOW))
    monkeypatch.setattr("momoscan.check.RealClock", lambda: FixedClock(NOW))
    monkeypatch.setattr("momoscan.sources.http.backoff_delay", lambda *a, **k: 0.0)
    monkeypatch.setenv("TWELVEDATA_API_KEY", KEY)

    def make(faults: str) -> ProviderServer:
        plan = FaultPlan.parse(faults) if faults else None
        return ProviderServer(clock=FixedClock(NOW), faults=plan, plan_limit=100_000)

    return make


def config(tmp_path: Path, server: ProviderServer) -> Path:
    url = server.url
    path = tmp_path / "config.toml"
    path.write_text(
        f'[twelvedata]\nbase_url = "{url}"\ntimeout = 1.5\n'
        f'[cboe]\nbase_url = "{url}"\ntimeout = 1.5\nrequests_per_minute = 10000\n'
        f'[occ]\nbase_url = "{url}"\ntimeout = 1.5\nrequests_per_minute = 10000\n'
        '[universe]\nsource = "builtin"\n[options]\nwatch_size = 12\n'
        f'[halts]\nhalts_url = "{url}/rss.aspx?feed=tradehalts"\n'
        f'ssr_url = "{url}/dynamic/symdir/shorthalts/"\n'
        f'[finra]\nshort_interest_url = "{url}/equity/otcmarket/biweekly/"\n'
        f'short_volume_url = "{url}/equity/regsho/daily/"\n'
    )
    return path


def test_headless_once_over_a_real_socket_with_every_fault(
    tmp_path: Path, providers: Providers, capsys: pytest.CaptureFixture[str]
) -> None:
    with providers(FAULTS) as server:
        code = main(
            ["--config", str(config(tmp_path, server)), "--db", str(tmp_path / "l.db"),
             "--once", "--json"]
        )  # fmt: skip
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert code == 0, err
    assert doc["mode"] == "live" and doc["refresh"]["status"] in ("ok", "partial")
    assert len(doc["top_movers"]) == 10 and len(doc["top_volume"]) == 10
    assert doc["options"]["shares"] and doc["options"]["leaders"]["rows"]
    # Trickled answers were cut off by the whole-request deadline and asked again.
    assert server.sim.injected["td_trickle"] + server.sim.injected["cboe_trickle"] > 0
    for failure in doc["refresh"]["failures"]:
        assert f"momoscan: {failure['source']} ({failure['item']}): " in err
    assert "Traceback" not in err and KEY not in err and KEY not in out


def test_check_over_a_real_socket(
    tmp_path: Path, providers: Providers, capsys: pytest.CaptureFixture[str]
) -> None:
    with providers("") as server:
        code = main(["check", "--config", str(config(tmp_path, server)), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["ok"]
    configured = [s["source"] for s in doc["sources"] if s["configured"]]
    assert configured == [
        "Twelve Data",
        "Cboe",
        "OCC",
        "Nasdaq halts",
        "Nasdaq SSR list",
        "FINRA short interest",
        "FINRA short volume",
    ]
