"""Stand-in providers for tests of the live path: respx routes for Twelve Data, Cboe and OCC,
answered by one simulated market's server in the providers' own wire formats, with `bend`
changing answers the way the real services send them (an HTML page, a refusal, a stale file).

Shared by test_live, test_real_world and test_check, which each had their own copy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import respx

from momoscan.clock import FixedClock
from momoscan.config import Settings
from momoscan.runtime import RunOptions
from momoscan.simulated.market import SimMarket
from momoscan.simulated.transport import SimServer

TD, CBOE, OCC = "https://td.test", "https://cboe.test", "https://occ.test"
HALTS = "https://halts.test"  # Nasdaq Trader's halts feed and Rule 201 files
FINRA = "https://finra.test"  # FINRA's short interest and short volume files

#: (request, status, headers, body) to the answer sent instead.
Bend = Callable[[httpx.Request, int, dict[str, str], bytes], tuple[int, dict[str, str], bytes]]


def live_settings(key: str, **scan: object) -> Settings:
    """Live mode against the stand-ins: `key` for Twelve Data, every base URL pointed at them,
    the built-in universe, Cboe's and OCC's politeness caps lifted; `scan` sets `[scan]` keys."""
    settings = Settings()
    settings.twelvedata.api_key = key
    settings.twelvedata.base_url = TD
    settings.cboe.base_url = CBOE
    settings.occ.base_url = OCC
    settings.halts.halts_url = f"{HALTS}/rss.aspx?feed=tradehalts"
    settings.halts.ssr_url = f"{HALTS}/dynamic/symdir/shorthalts/"
    settings.finra.short_interest_url = f"{FINRA}/equity/otcmarket/biweekly/"
    settings.finra.short_volume_url = f"{FINRA}/equity/regsho/daily/"
    settings.universe.source = "builtin"
    settings.cboe.requests_per_minute = 10_000
    settings.occ.requests_per_minute = 10_000
    for name, value in scan.items():
        setattr(settings.scan, name, value)
    return settings


class Providers:
    """The three providers' routes, answered by a simulated market (seed 7, the built-in
    names only) on `clock`; every request kept in `requests`."""

    def __init__(
        self,
        clock: FixedClock,
        bend: Bend | None = None,
        *,
        plan_limit: int = 5000,
        daily_limit: int | None = None,
    ):
        market = SimMarket(7, 0, clock)
        self.server = SimServer(market, plan_limit=plan_limit, daily_limit=daily_limit)
        self.bend = bend
        self.requests: list[httpx.Request] = []

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status, headers, body = self.server.handle(
            request.method, str(request.url), dict(request.headers)
        )
        if self.bend is not None:
            status, headers, body = self.bend(request, status, headers, body)
        return httpx.Response(status, headers=headers, content=body)

    def route(self, router: respx.MockRouter) -> None:
        """Answer every request to the providers' base URLs on `router`."""
        for base in (TD, CBOE, OCC, HALTS, FINRA):
            router.route(url__startswith=base).mock(side_effect=self.answer)

    def mock(self) -> respx.MockRouter:
        """A router (use as a context manager) with the three providers' routes."""
        router = respx.mock(assert_all_called=False)
        self.route(router)
        return router


def options(db: Path) -> RunOptions:
    """A run on `db` with parsing in this process (respx mocks only this process's client)."""
    return RunOptions(db=str(db), offload_processes=False)
