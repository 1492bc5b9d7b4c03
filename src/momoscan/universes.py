"""The universe sources a run can use: the built-in list, your file, Nasdaq Data Link, or (in
the demo) the simulated market's own; and the option products left out of the daily leaders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .config import ConfigError, Settings
from .models import Ticker
from .sources.universe import FileUniverse, StaticUniverse, UniverseSource


def option_product_symbols() -> frozenset[str]:
    """ETFs, ETNs and index products, left out of the daily leaders unless include_etfs is on.

    OCC's file does not say what an underlying is: this is the bundled list of optionable
    funds and index roots (data/option_etfs.csv), plus the simulated market's."""
    import csv
    from importlib import resources

    from .simulated.universe import option_products

    text = resources.files("momoscan").joinpath("data", "option_etfs.csv").read_text("utf-8")
    listed = {row["symbol"] for row in csv.DictReader(text.splitlines())}
    return frozenset(listed | {p.symbol for p in option_products()})


def builtin_universe() -> StaticUniverse:
    from .simulated.universe import real_stocks

    stocks = real_stocks()
    return StaticUniverse(
        "builtin",
        [s.ticker() for s in stocks],
        f"the built-in list of {len(stocks)} US stocks",
    )


def live_universe(settings: Settings) -> UniverseSource:
    source = settings.universe.source
    where = settings.source_path
    if source == "builtin":
        return builtin_universe()
    if source == "file" or (source == "auto" and settings.universe.path):
        if not settings.universe.path:
            raise ConfigError(where, 'source = "file" needs a path', key="[universe] path")
        return FileUniverse(Path(settings.universe.path).expanduser())
    if source == "nasdaq" or (source == "auto" and settings.nasdaq.api_key):
        from .sources.nasdaq import NasdaqUniverse

        if not settings.nasdaq.api_key:
            raise ConfigError(
                where,
                'source = "nasdaq" needs a key: set NASDAQ_DATA_LINK_API_KEY or [nasdaq] api_key',
                key="[universe] source",
            )
        return NasdaqUniverse(settings)
    return builtin_universe()


class SimulatedUniverse:
    """The simulated market's universe, asked of the market itself (in its own process, where
    it is built anyway): the app's event loop never builds 8,000 securities with numpy."""

    name = "demo"

    def __init__(self, transport: Any, description: str):
        self._transport = transport
        self._description = description

    async def load(self) -> list[Ticker]:
        tickers: list[Ticker] = await self._transport.tickers()
        return tickers

    def describe(self) -> str:
        return self._description
