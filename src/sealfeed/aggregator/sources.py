"""The 13 REST sources: names, defaults and symbol mapping (pure data, no IO).

Source names are the reference's URL names (Super-Protocol/chainlink ``price-aggregator``
``SourceName`` enum), so existing job specs (``/quote/<source>/<base>/<quote>``) keep working.
Defaults come from the design (issue #5): requests per second and batch sizes that stay under
each exchange's documented public limits.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceDefaults:
    name: str
    base_url: str
    rps: float
    #: pairs per upstream call; None = the API has no multi-symbol call (one call per pair)
    max_batch_size: int | None
    requires_key: bool = False
    docs: str = ""


def _d(
    name: str,
    url: str,
    rps: float,
    batch: int | None,
    key: bool = False,
    docs: str = "",
) -> SourceDefaults:
    return SourceDefaults(name, url, rps, batch, key, docs)


# rps / batch per the design (issue #5): Binance 100/500, OKX 10/200, CoinGecko 1/100,
# Kraken 1/50, Coinbase 2.8, CryptoCompare 25/50, Finnhub 1, AlphaVantage 1,
# ExchangeRateHost 1, Frankfurter 10, Yahoo 10, KuCoin 30, Bybit 120. KuCoin and Bybit serve
# every spot ticker in one call (allTickers / tickers?category=spot), so their batch is the
# whole tracked set; ExchangeRateHost and Frankfurter batch all quotes of one base per call.
DEFAULTS: dict[str, SourceDefaults] = {
    d.name: d
    for d in (
        _d("alphavantage", "https://www.alphavantage.co", 1, None, True,
           "https://www.alphavantage.co/documentation/#currency-exchange"),
        _d("binance", "https://api.binance.com", 100, 500, False,
           "https://developers.binance.com/docs/binance-spot-api-docs/rest-api/market-data-endpoints"),
        _d("bybit", "https://api.bybit.com", 120, 1000, False,
           "https://bybit-exchange.github.io/docs/v5/market/tickers"),
        _d("coinbase", "https://api.coinbase.com", 2.8, None, False,
           "https://docs.cdp.coinbase.com/coinbase-app/docs/api-prices"),
        _d("coingecko", "https://api.coingecko.com", 1, 100, False,
           "https://docs.coingecko.com/reference/simple-price"),
        _d("cryptocompare", "https://min-api.cryptocompare.com", 25, 50, False,
           "https://developers.cryptocompare.com/documentation/legacy/Price/multipleSymbolsPriceEndpoint"),
        _d("exchangerate-host", "https://api.exchangerate.host", 1, 100, True,
           "https://exchangerate.host/documentation"),
        _d("finnhub", "https://finnhub.io", 1, None, True,
           "https://finnhub.io/docs/api/quote"),
        _d("frankfurter", "https://api.frankfurter.app", 10, 100, False,
           "https://frankfurter.dev/"),
        _d("kraken", "https://api.kraken.com", 1, 50, False,
           "https://docs.kraken.com/api/docs/rest-api/get-ticker-information"),
        _d("kucoin", "https://api.kucoin.com", 30, 1000, False,
           "https://www.kucoin.com/docs/rest/spot-trading/market-data/get-all-tickers"),
        _d("okx", "https://www.okx.com", 10, 200, False,
           "https://www.okx.com/docs-v5/en/#public-data-rest-api-get-tickers"),
        _d("yahoofinance", "https://query1.finance.yahoo.com", 10, None, False,
           "https://query1.finance.yahoo.com/v8/finance/chart/BTC-USD (unofficial)"),
    )
}  # fmt: skip

SOURCE_NAMES: tuple[str, ...] = tuple(sorted(DEFAULTS))


def canonical_source(name: str) -> str | None:
    """Map a config key or URL segment to the source name (``exchangeratehost`` and
    ``exchange-rate-host`` both mean ``exchangerate-host``); None if unknown."""
    key = name.strip().lower().replace("_", "").replace("-", "")
    for canon in SOURCE_NAMES:
        if canon.replace("-", "") == key:
            return canon
    return None


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
    "SourceDefaults",
    "canonical_source",
]
