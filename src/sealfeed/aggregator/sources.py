"""The 13 REST sources: names, defaults and symbol mapping (pure data, no IO).

Source names are the reference's URL names (Super-Protocol/chainlink ``price-aggregator``
``SourceName`` enum), so existing job specs (``/quote/<source>/<base>/<quote>``) keep working.
The per-source defaults (base URL, rps, batch size, API key, stream URL) are not kept here:
``DEFAULTS`` is a view of the one source catalogue, :mod:`sealfeed.config.catalogue`, which
the configuration schema and docs/config.md read too (ADR 0095).
"""

from __future__ import annotations

from collections.abc import Mapping

from sealfeed.config.catalogue import BY_NAME, SourceInfo, lookup

#: the catalogue entry type, under the name the aggregator has always used
SourceDefaults = SourceInfo

#: by URL name (``exchangerate-host``): the catalogue's own entries, not copies
DEFAULTS: Mapping[str, SourceInfo] = BY_NAME

SOURCE_NAMES: tuple[str, ...] = tuple(sorted(DEFAULTS))

#: default WebSocket endpoint per streaming source (the stream of its default venue)
STREAM_URLS: Mapping[str, str] = {
    s.name: s.stream_url for s in BY_NAME.values() if s.stream_url is not None
}


def canonical_source(name: str) -> str | None:
    """Map a config key or URL segment to the source name (``exchangeratehost`` and
    ``exchange-rate-host`` both mean ``exchangerate-host``); None if unknown."""
    info = lookup(name)
    return info.name if info is not None else None


# ISO 4217 codes that the FX-only sources understand; used to choose FX symbol styles.
FIAT: frozenset[str] = frozenset(
    [
        "USD",
        "EUR",
        "GBP",
        "JPY",
        "CHF",
        "CAD",
        "AUD",
        "NZD",
        "CNY",
        "HKD",
        "SGD",
        "SEK",
        "NOK",
        "DKK",
        "PLN",
        "CZK",
        "HUF",
        "TRY",
        "ZAR",
        "BRL",
        "MXN",
        "INR",
        "KRW",
        "IDR",
        "THB",
        "MYR",
        "PHP",
        "ILS",
        "RON",
        "BGN",
        "ISK",
        "AED",
        "SAR",
    ]
)

# Kraken's legacy asset names (https://docs.kraken.com/api/docs/rest-api/get-asset-info):
# requests accept the altname (XBTUSD) but results are keyed by the legacy pair name
# (XXBTZUSD): X-prefixed crypto, Z-prefixed fiat.
KRAKEN_ALIASES = {"BTC": "XBT", "DOGE": "XDG"}
KRAKEN_LEGACY = frozenset(
    [
        "XBT",
        "ETH",
        "LTC",
        "XRP",
        "XLM",
        "ETC",
        "XMR",
        "ZEC",
        "REP",
        "MLN",
        "XDG",
        "USD",
        "EUR",
        "GBP",
        "JPY",
        "CAD",
        "AUD",
        "CHF",
    ]
)

# CoinGecko prices by coin id, not ticker (https://docs.coingecko.com/reference/coins-list).
# Unknown symbols fall through as their lower-cased name, so ids work directly too.
COINGECKO_IDS = {
    "BTC": "bitcoin", "ETH": "ethereum", "USDT": "tether", "USDC": "usd-coin",
    "BNB": "binancecoin", "SOL": "solana", "XRP": "ripple", "ADA": "cardano",
    "DOGE": "dogecoin", "TRX": "tron", "DOT": "polkadot", "LINK": "chainlink",
    "AVAX": "avalanche-2", "LTC": "litecoin", "BCH": "bitcoin-cash", "ATOM": "cosmos",
    "UNI": "uniswap", "XLM": "stellar", "ETC": "ethereum-classic", "FIL": "filecoin",
    "NEAR": "near", "APE": "apecoin", "ARB": "arbitrum", "OP": "optimism", "AAVE": "aave",
    "ALGO": "algorand", "DAI": "dai", "MKR": "maker", "SHIB": "shiba-inu", "PEPE": "pepe",
    "MATIC": "matic-network", "POL": "polygon-ecosystem-token", "TON": "the-open-network",
    "SUI": "sui", "APT": "aptos", "1INCH": "1inch", "COMP": "compound-governance-token",
    "CRV": "curve-dao-token", "SNX": "havven", "YFI": "yearn-finance", "PAXG": "pax-gold",
    "WBTC": "wrapped-bitcoin", "GRT": "the-graph", "SAND": "the-sandbox",
    "MANA": "decentraland", "AXS": "axie-infinity", "CHZ": "chiliz", "ENS": "ethereum-name-service",
    "LDO": "lido-dao", "INJ": "injective-protocol", "TIA": "celestia", "SEI": "sei-network",
}  # fmt: skip
# crypto tickers known to Yahoo as "<BASE>-<QUOTE>" (everything in COINGECKO_IDS is crypto)
CRYPTO: frozenset[str] = frozenset(COINGECKO_IDS) | {"XBT", "XDG"}

__all__ = [
    "COINGECKO_IDS",
    "CRYPTO",
    "DEFAULTS",
    "FIAT",
    "KRAKEN_ALIASES",
    "KRAKEN_LEGACY",
    "SOURCE_NAMES",
    "STREAM_URLS",
    "SourceDefaults",
    "canonical_source",
]
