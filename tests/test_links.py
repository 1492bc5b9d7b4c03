import pytest

from momoscan.links import NoChart, chart_url, tradingview_symbol
from momoscan.models import Ticker


@pytest.mark.parametrize(
    ("symbol", "mic", "exchange", "expected"),
    [
        ("AAPL", "XNGS", "NASDAQ", "NASDAQ:AAPL"),
        ("SOFI", "XNMS", "", "NASDAQ:SOFI"),
        ("ABCD", "XNCM", "", "NASDAQ:ABCD"),
        ("IBM", "XNYS", "NYSE", "NYSE:IBM"),
        ("SPY", "ARCX", "NYSE", "AMEX:SPY"),  # Twelve Data says NYSE; the MIC says Arca
        ("UEC", "XASE", "NYSEMKT", "AMEX:UEC"),
        ("CBOE", "BATS", "BATS", "CBOE:CBOE"),
        ("BRK.B", "XNYS", "NYSE", "NYSE:BRK.B"),
        ("BRK-B", "XNYS", "", "NYSE:BRK.B"),
        ("BRK/B", "XNYS", "", "NYSE:BRK.B"),
        ("brk-b", "", "NYSE", "NYSE:BRK.B"),
        ("BF/B", "", "NYSE", "NYSE:BF.B"),
        ("GLD", "", "NYSEARCA", "AMEX:GLD"),
        ("XYZ", "", "NYSEMKT", "AMEX:XYZ"),
        ("SPX", "", "", "SP:SPX"),
        ("^SPX", "", "", "SP:SPX"),  # a watchlist spelling of the index
        ("$NDX", "", "", "NASDAQ:NDX"),
    ],
)
def test_prefix_from_mic_then_exchange(symbol: str, mic: str, exchange: str, expected: str) -> None:
    assert tradingview_symbol(symbol, mic, exchange) == expected


def test_unknown_listing_refuses_rather_than_guessing() -> None:
    with pytest.raises(NoChart):
        tradingview_symbol("CVX", "", "")


def test_not_a_symbol_has_no_chart() -> None:
    with pytest.raises(NoChart) as info:
        tradingview_symbol("EUR/USD", "XNYS", "NYSE")
    assert str(info.value) == (
        "'EUR/USD' is not a US stock symbol or index, so it has no TradingView chart."
    )


@pytest.mark.parametrize("symbol", ["BRK.B", "BRK-B", "BRK/B"])
def test_chart_url(symbol: str) -> None:
    url = chart_url(Ticker(symbol, "Berkshire Hathaway Inc", "NYSE", "XNYS", "mega"))
    assert url == "https://www.tradingview.com/chart/?symbol=NYSE:BRK.B"


def test_no_chart_for_simulated_symbols() -> None:
    with pytest.raises(NoChart, match="simulated"):
        chart_url(
            Ticker(
                "QZX", "Qzx Labs (sim)", "NASDAQ", "XNAS", "small", category="Synthetic (simulated)"
            )
        )
