"""The price-source catalogue: the one table of the 13 REST sources (pure data, no IO).

Everything that depends on a source's identity reads this table: the configuration schema
(the keys allowed under ``priceAggregatorConfig.sources``, the per-source defaults of ``rps``
and ``maxBatchSize``, which sources need an API key and which can stream), docs/config.md,
and the aggregator (``sealfeed.aggregator.sources.DEFAULTS`` is a view of it). Decisions and
their sources are recorded in docs/adr/0095-one-source-catalogue.md.

Names: ``name`` is the reference's URL name (Super-Protocol/chainlink price-aggregator
``SourceName`` enum, used in ``/quote/<name>/...``), ``key`` its configuration key
(``sources.schema.ts``); they differ only for ``exchangerate-host``/``exchangeratehost``.

One source = one venue: a source's REST API and its WebSocket stream are the same exchange.
A source with several venues (Binance: binance.com and binance.us) lists them; the first is
the default, and a configuration that names one venue's URL gets that venue's other URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

#: How one upstream call covers several pairs:
#: ``per-pair`` one call per pair; ``symbols`` one call lists up to ``max_batch_size`` pairs;
#: ``per-base`` one call per base currency with up to ``max_batch_size`` quote currencies;
#: ``all-tickers`` one call returns every spot ticker (no pair limit).
Batching = Literal["per-pair", "symbols", "per-base", "all-tickers"]


@dataclass(frozen=True)
class Venue:
    """One exchange deployment: its REST base URL and its public stream (None = none)."""

    label: str
    base_url: str
    stream_url: str | None = None


@dataclass(frozen=True)
class SourceInfo:
    """One price source. Attribute names ``name``, ``base_url``, ``rps``, ``max_batch_size``,
    ``requires_key`` and ``docs`` are what the aggregator has always read."""

    name: str
    key: str
    title: str
    venues: tuple[Venue, ...]
    #: default requests/second budget (``sources.<key>.rps`` when absent)
    rps: float
    batching: Batching
    #: pairs per upstream call (``maxBatchSize`` when absent); None: no limit applies
    #: (``per-pair`` sources send one pair, ``all-tickers`` sources get every pair at once)
    max_batch_size: int | None
    #: the upstream answers nothing useful without an API key
    requires_key: bool
    #: the schema rejects ``enabled`` without ``apiKey`` (the reference's ``Decode`` check);
    #: False only where the reference accepts a keyless entry (a signed file must still load)
    key_checked: bool
    #: the upstream reads an API key at all (sent as header/query parameter)
    uses_key: bool
    docs: str

    @property
    def base_url(self) -> str:
        return self.venues[0].base_url

    @property
    def stream_url(self) -> str | None:
        return self.venues[0].stream_url

    @property
    def streams(self) -> bool:
        return self.stream_url is not None

    def venue_of(self, url: str) -> Venue | None:
        """The venue whose REST base URL or stream URL this is (trailing ``/`` ignored)."""
        want = url.rstrip("/")
        for v in self.venues:
            if want in (v.base_url, (v.stream_url or "").rstrip("/")):
                return v
        return None


def _src(
    name: str,
    title: str,
    venues: tuple[Venue, ...],
    rps: float,
    batching: Batching,
    batch: int | None,
    key: Literal["required", "optional", "unused"],
    docs: str,
    *,
    config_key: str | None = None,
    key_checked: bool | None = None,
) -> SourceInfo:
    return SourceInfo(
        name=name,
        key=config_key or name,
        title=title,
        venues=venues,
        rps=rps,
        batching=batching,
        max_batch_size=batch,
        requires_key=key == "required",
        key_checked=(key == "required") if key_checked is None else key_checked,
        uses_key=key != "unused",
        docs=docs,
    )


# rps and batch sizes are the reference's sources.schema.ts defaults (design issue #5) where it
# has them; the rest follow the upstream's documented call shapes (see ADR 0095).
CATALOGUE: tuple[SourceInfo, ...] = (
    _src("binance", "Binance",
         (Venue("binance.com", "https://api.binance.com", "wss://stream.binance.com:9443/ws"),
          Venue("binance.us", "https://api.binance.us", "wss://stream.binance.us:9443/ws")),
         100, "symbols", 500, "optional",
         "https://developers.binance.com/docs/binance-spot-api-docs/rest-api/market-data-endpoints"),
    _src("okx", "OKX",
         (Venue("okx.com", "https://www.okx.com", "wss://ws.okx.com:8443/ws/v5/public"),),
         10, "all-tickers", None, "optional",
         "https://www.okx.com/docs-v5/en/#public-data-rest-api-get-tickers"),
    _src("coingecko", "CoinGecko",
         (Venue("coingecko.com", "https://api.coingecko.com"),),
         1, "symbols", 100, "optional",
         "https://docs.coingecko.com/reference/simple-price"),
    _src("kraken", "Kraken",
         (Venue("kraken.com", "https://api.kraken.com", "wss://ws.kraken.com/v2"),),
         1, "symbols", 50, "optional",
         "https://docs.kraken.com/api/docs/rest-api/get-ticker-information"),
    _src("coinbase", "Coinbase",
         (Venue("coinbase.com", "https://api.coinbase.com",
                "wss://advanced-trade-ws.coinbase.com"),),
         2.8, "per-pair", None, "optional",
         "https://docs.cdp.coinbase.com/coinbase-app/docs/api-prices"),
    _src("cryptocompare", "CryptoCompare",
         (Venue("cryptocompare.com", "https://min-api.cryptocompare.com",
                "wss://streamer.cryptocompare.com/v2"),),
         25, "symbols", 50, "required",
         "https://developers.cryptocompare.com/documentation/legacy/Price/multipleSymbolsPriceEndpoint"),
    _src("finnhub", "Finnhub",
         (Venue("finnhub.io", "https://finnhub.io", "wss://ws.finnhub.io"),),
         1, "per-pair", None, "required",
         "https://finnhub.io/docs/api/quote"),
    _src("alphavantage", "Alpha Vantage",
         (Venue("alphavantage.co", "https://www.alphavantage.co"),),
         1, "per-pair", None, "required",
         "https://www.alphavantage.co/documentation/#currency-exchange"),
    _src("exchangerate-host", "exchangerate.host",
         (Venue("exchangerate.host", "https://api.exchangerate.host"),),
         1, "per-base", 100, "required",
         "https://exchangerate.host/documentation",
         config_key="exchangeratehost", key_checked=False),
    _src("frankfurter", "Frankfurter",
         (Venue("frankfurter.app", "https://api.frankfurter.app"),),
         10, "per-base", 100, "unused",
         "https://frankfurter.dev/"),
    _src("yahoofinance", "Yahoo Finance",
         (Venue("yahoo.com", "https://query1.finance.yahoo.com"),),
         10, "per-pair", None, "unused",
         "https://query1.finance.yahoo.com/v8/finance/chart/BTC-USD (unofficial)"),
    _src("kucoin", "KuCoin",
         (Venue("kucoin.com", "https://api.kucoin.com"),),
         30, "all-tickers", None, "optional",
         "https://www.kucoin.com/docs/rest/spot-trading/market-data/get-all-tickers"),
    _src("bybit", "Bybit",
         (Venue("bybit.com", "https://api.bybit.com"),),
         120, "all-tickers", None, "optional",
         "https://bybit-exchange.github.io/docs/v5/market/tickers"),
)  # fmt: skip

#: by configuration key (``exchangeratehost``), in catalogue order
BY_KEY: Mapping[str, SourceInfo] = {s.key: s for s in CATALOGUE}
#: by URL name (``exchangerate-host``), in catalogue order
BY_NAME: Mapping[str, SourceInfo] = {s.name: s for s in CATALOGUE}
CONFIG_KEYS: tuple[str, ...] = tuple(BY_KEY)
STREAMING_KEYS: tuple[str, ...] = tuple(s.key for s in CATALOGUE if s.streams)


def lookup(name: str) -> SourceInfo | None:
    """The source a configuration key or URL name means, matched loosely
    (``exchangeratehost``, ``exchangerate-host`` and ``Exchange_Rate-Host`` are one source)."""
    want = name.strip().lower().replace("_", "").replace("-", "")
    for s in CATALOGUE:
        if s.name.replace("-", "") == want or s.key == want:
            return s
    return None


__all__ = [
    "BY_KEY",
    "BY_NAME",
    "CATALOGUE",
    "CONFIG_KEYS",
    "STREAMING_KEYS",
    "Batching",
    "SourceInfo",
    "Venue",
    "lookup",
]
