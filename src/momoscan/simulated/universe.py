"""The simulated market's securities: real US listings from a bundled file, plus synthetic ones.

`data/universe.csv` holds real stocks and ADRs with name, exchange, MIC, cap tier, an approximate
price, share volume and options volume; `data/option_products.csv` the ETFs and indexes that
dominate options volume. Synthetic symbols (for scale tests) are generated from the seed, flagged
`synthetic` and named "(sim)", so nobody mistakes them for listings.
"""

from __future__ import annotations

import csv
import functools
import random
from dataclasses import dataclass
from importlib import resources

from ..models import Ticker

SYNTHETIC_CATEGORY = "Synthetic (simulated)"


@dataclass(frozen=True, slots=True)
class SimSecurity:
    symbol: str
    name: str
    exchange: str
    mic: str
    cap_tier: str
    sector: str
    category: str
    kind: str  # "stock", "etf" or "index"
    price: float
    avg_volume: int
    options_volume: int
    synthetic: bool = False

    def ticker(self) -> Ticker:
        return Ticker(
            symbol=self.symbol,
            name=self.name,
            exchange=self.exchange,
            mic=self.mic,
            cap_tier=self.cap_tier,
            sector=self.sector,
            category=self.category,
        )


def _read(name: str) -> list[dict[str, str]]:
    text = resources.files("momoscan.simulated").joinpath("data", name).read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


@functools.cache
def real_stocks() -> tuple[SimSecurity, ...]:
    return tuple(
        SimSecurity(
            symbol=row["symbol"],
            name=row["name"],
            exchange=row["exchange"],
            mic=row["mic"],
            cap_tier=row["cap_tier"],
            sector=row["sector"],
            category=row["category"],
            kind="stock",
            price=float(row["price"]),
            avg_volume=int(row["avg_volume"]),
            options_volume=int(row["options_volume"]),
        )
        for row in _read("universe.csv")
    )


@functools.cache
def option_products() -> tuple[SimSecurity, ...]:
    return tuple(
        SimSecurity(
            symbol=row["symbol"],
            name=row["name"],
            exchange=row["exchange"],
            mic=row["mic"],
            cap_tier="",
            sector="",
            category="ETF" if row["kind"] == "etf" else "Index",
            kind=row["kind"],
            price=float(row["price"]),
            avg_volume=0,
            options_volume=int(row["options_volume"]),
        )
        for row in _read("option_products.csv")
    )


# Tier mix of synthetic names, and each tier's price range and share volume range.
_SYNTHETIC_TIERS = (
    ("micro", 0.18, (0.4, 12.0), (80_000, 2_000_000)),
    ("small", 0.34, (2.0, 60.0), (200_000, 5_000_000)),
    ("mid", 0.28, (8.0, 150.0), (400_000, 6_000_000)),
    ("large", 0.17, (20.0, 400.0), (800_000, 15_000_000)),
    ("mega", 0.03, (80.0, 900.0), (5_000_000, 40_000_000)),
)
_SYLLABLES = (
    "Ark",
    "Bel",
    "Cor",
    "Dyn",
    "Eno",
    "Fal",
    "Gra",
    "Hel",
    "Ion",
    "Jun",
    "Kel",
    "Lum",
    "Mer",
    "Nov",
    "Orb",
    "Pax",
    "Qua",
    "Rho",
    "Sol",
    "Tor",
    "Umb",
    "Ver",
    "Wex",
    "Xen",
    "Yor",
    "Zep",
)
_SUFFIXES = (
    "Holdings",
    "Systems",
    "Therapeutics",
    "Energy",
    "Labs",
    "Industries",
    "Networks",
    "Bancorp",
    "Materials",
    "Robotics",
    "Biosciences",
    "Logistics",
)
_SECTORS = (
    "Technology",
    "Healthcare",
    "Financial Services",
    "Consumer Cyclical",
    "Industrials",
    "Energy",
    "Basic Materials",
    "Communication Services",
    "Real Estate",
    "Utilities",
    "Consumer Defensive",
)


def synthetic_stocks(count: int, seed: int, taken: set[str]) -> list[SimSecurity]:
    """`count` made-up stocks, the same for the same seed, none clashing with `taken`."""
    rng = random.Random(f"momoscan-synthetic-{seed}")
    out: list[SimSecurity] = []
    used = set(taken)
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    weights = [t[1] for t in _SYNTHETIC_TIERS]
    while len(out) < count:
        length = rng.choice((3, 4, 4, 4))
        symbol = "".join(rng.choice(letters) for _ in range(length))
        if symbol in used:
            continue
        used.add(symbol)
        tier, _, (p_lo, p_hi), (v_lo, v_hi) = rng.choices(_SYNTHETIC_TIERS, weights)[0]
        price = round(p_lo * (p_hi / p_lo) ** rng.random(), 2)
        avg_volume = int(v_lo * (v_hi / v_lo) ** rng.random())
        optionable = tier in ("small", "mid", "large", "mega") and rng.random() < 0.7
        name = f"{rng.choice(_SYLLABLES)}{rng.choice(_SYLLABLES).lower()} "
        name += f"{rng.choice(_SUFFIXES)} (sim)"
        nasdaq = rng.random() < 0.55
        out.append(
            SimSecurity(
                symbol=symbol,
                name=name,
                exchange="NASDAQ" if nasdaq else "NYSE",
                mic="XNAS" if nasdaq else "XNYS",
                cap_tier=tier,
                sector=rng.choice(_SECTORS),
                category=SYNTHETIC_CATEGORY,
                kind="stock",
                price=price,
                avg_volume=avg_volume,
                options_volume=int(avg_volume * rng.uniform(0.002, 0.02)) if optionable else 0,
                synthetic=True,
            )
        )
    return out


def build_stocks(size: int, seed: int) -> list[SimSecurity]:
    """The simulated stock universe: every real stock when `size` is 0; the first `size` of a
    seeded shuffle when smaller; all real ones plus synthetic ones up to `size` when larger."""
    real = list(real_stocks())
    if size <= 0:
        return real
    if size <= len(real):
        picked = random.Random(f"momoscan-pick-{seed}").sample(real, size)
        return sorted(picked, key=lambda s: s.symbol)
    taken = {s.symbol for s in real} | {p.symbol for p in option_products()}
    return real + synthetic_stocks(size - len(real), seed, taken)
