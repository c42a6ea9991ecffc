"""One price-source catalogue: schema, docs, aggregator defaults and streams read the same
objects; one source is one venue; rps absent/null/explicit are three different things."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any
from urllib.parse import urlsplit

import pytest

from sealfeed.aggregator import sources as agg_sources
from sealfeed.aggregator.streams.binance import Binance
from sealfeed.aggregator.streams.coinbase import Coinbase
from sealfeed.aggregator.streams.cryptocompare import CryptoCompare
from sealfeed.aggregator.streams.finnhub import Finnhub
from sealfeed.aggregator.streams.kraken import Kraken
from sealfeed.aggregator.streams.okx import Okx
from sealfeed.config import catalogue, schema
from sealfeed.config.schema import ConfigInvalid, no_secret_files, parse_solution
from tests.config.docs_table import source_rows
from tests.config.test_schema import problems_of, reference_solution


def test_schema_and_aggregator_defaults_are_the_catalogue_objects() -> None:
    assert schema.SOURCES is catalogue.BY_KEY
    assert agg_sources.DEFAULTS is catalogue.BY_NAME
    for info in catalogue.CATALOGUE:
        assert agg_sources.DEFAULTS[info.name] is info
        assert schema.SOURCES[info.key] is info
    pa = schema.SOLUTION.fields["priceAggregatorConfig"]
    assert pa.fields["sources"].keys is catalogue.CONFIG_KEYS
    ttl_item = pa.fields["pairsTtl"].item
    assert ttl_item is not None and ttl_item.fields["source"].choices is catalogue.CONFIG_KEYS
    assert tuple(sorted(catalogue.BY_NAME)) == agg_sources.SOURCE_NAMES
    assert agg_sources.canonical_source("Exchange_Rate-Host") == "exchangerate-host"
    assert agg_sources.canonical_source("exchangeratehost") == "exchangerate-host"
    assert agg_sources.canonical_source("nasdaq") is None


@pytest.mark.parametrize("exchange", [Binance, Okx, Kraken, Coinbase, CryptoCompare, Finnhub])
def test_stream_default_urls_are_the_catalogue_urls(exchange: Any) -> None:
    assert exchange.default_url is catalogue.BY_NAME[exchange.name].stream_url
    assert catalogue.BY_KEY[exchange.name].streams
    assert set(catalogue.STREAMING_KEYS) == {"binance", "okx", "kraken", "coinbase",
                                             "cryptocompare", "finnhub"}  # fmt: skip


def test_docs_source_table_is_the_catalogue() -> None:
    rows = source_rows()
    assert [r["source key"] for r in rows] == [f"`{s.key}`" for s in catalogue.CATALOGUE]
    for row, info in zip(rows, catalogue.CATALOGUE, strict=True):
        assert row["name"] == f"`{info.name}`"
        assert row["REST base URL"] == f"`{info.base_url}`"
        assert row["stream URL"] == (f"`{info.stream_url}`" if info.stream_url else "none")
        assert float(row["rps"]) == info.rps
        assert row["maxBatchSize"] == ("" if info.max_batch_size is None
                                       else str(info.max_batch_size))  # fmt: skip
        assert row["API key"].startswith("required") is info.requires_key


def _domain(url: str) -> str:
    host = urlsplit(url).hostname or ""
    return ".".join(host.split(".")[-2:])


@pytest.mark.parametrize("info", catalogue.CATALOGUE, ids=lambda s: s.key)
def test_one_source_is_one_venue(info: catalogue.SourceInfo) -> None:
    for venue in info.venues:
        if venue.stream_url is not None:
            assert _domain(venue.stream_url) == _domain(venue.base_url), venue
    assert len({v.base_url for v in info.venues}) == len(info.venues)


def test_binance_default_is_one_venue_and_the_other_follows() -> None:
    sol = reference_solution()
    sources = sol["priceAggregatorConfig"]["sources"]
    sources["binance"] = {"stream": {}}
    b = parse_solution(sol, no_secret_files).aggregator.sources["binance"]
    assert b.base_url is None and b.stream is not None and b.stream.ws_url is None
    assert (catalogue.BY_KEY["binance"].base_url, catalogue.BY_KEY["binance"].stream_url) == (
        "https://api.binance.com", "wss://stream.binance.com:9443/ws")  # fmt: skip
    sources["binance"] = {"baseUrl": "https://api.binance.us/", "stream": {}}
    b = parse_solution(sol, no_secret_files).aggregator.sources["binance"]
    assert b.stream is not None and b.stream.ws_url == "wss://stream.binance.us:9443/ws"
    sources["binance"] = {"stream": {"wsUrl": "wss://stream.binance.us:9443/ws"}}
    b = parse_solution(sol, no_secret_files).aggregator.sources["binance"]
    assert b.base_url == "https://api.binance.us"
    sources["binance"] = {"baseUrl": "https://api.binance.com",
                          "stream": {"wsUrl": "wss://stream.binance.us:9443/ws"}}  # fmt: skip
    assert problems_of(sol) == [
        "priceAggregatorConfig.sources.binance.stream.wsUrl: is the binance.us stream but "
        "baseUrl is the binance.com REST API; one source is one venue (use "
        "wss://stream.binance.com:9443/ws)"
    ]


def test_rps_absent_null_and_explicit_are_distinct() -> None:
    sol = reference_solution()
    sources = sol["priceAggregatorConfig"]["sources"]
    sources["kraken"] = {}
    sources["okx"] = {"rps": None}
    sources["coinbase"] = {"rps": 7}
    got = parse_solution(sol, no_secret_files).aggregator.sources
    assert got["kraken"].rps == catalogue.BY_KEY["kraken"].rps == 1  # absent: the default
    assert got["okx"].rps is None  # null: unlimited
    assert got["coinbase"].rps == 7
    assert got["bybit"].rps == 120  # not configured at all: the default too


def test_keyed_sources() -> None:
    sol = reference_solution()
    del sol["priceAggregatorConfig"]["sources"]["finnhub"]
    got = parse_solution(sol, no_secret_files).aggregator.sources
    # not configured: a source that needs a key stays off, the others run
    assert {k for k, s in got.items() if not s.enabled} == {
        "cryptocompare", "finnhub", "alphavantage", "exchangeratehost"}  # fmt: skip
    # exchangerate.host needs its access_key upstream, but the reference schema accepts an
    # enabled entry without one: a signed reference file still loads
    sol["priceAggregatorConfig"]["sources"]["exchangeratehost"] = {"enabled": True}
    assert parse_solution(sol, no_secret_files).aggregator.sources["exchangeratehost"].enabled
    sol["priceAggregatorConfig"]["sources"]["cryptocompare"] = {"enabled": True}
    with pytest.raises(ConfigInvalid, match=r"cryptocompare\.apiKey: is required"):
        parse_solution(sol, no_secret_files)


def test_aggregator_sources_command_prints_the_catalogue() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "sealfeed", "aggregator", "sources", "--json"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rows = {r["name"]: r for r in json.loads(out)["sources"]}
    assert list(rows) == sorted(catalogue.BY_NAME)
    for info in catalogue.CATALOGUE:
        row = rows[info.name]
        assert (row["key"], row["baseUrl"], row["rps"], row["maxBatchSize"]) == (
            info.key, info.base_url, info.rps, info.max_batch_size)  # fmt: skip
        assert row["streamUrl"] == info.stream_url
        assert row["apiKey"] == ("required" if info.requires_key
                                 else "optional" if info.uses_key else "not used")  # fmt: skip
