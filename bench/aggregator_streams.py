#!/usr/bin/env python3
"""Aggregator + streams benchmark (issue #6): the hot-cache load while 5,000 stream msg/s flow.

Runs the real service (``python -m sealfeed aggregator serve`` from a signed configuration)
against, all on 127.0.0.1:

* the six fake WebSocket exchanges of ``bench/streams.py --serve`` (real frame formats; pairs
  B000..B0NN against USDT on binance/okx/finnhub and USD on kraken/coinbase/cryptocompare,
  API key ``bench-key``); they publish ``--rate`` msg/s in total once told to;
* fake REST upstreams for the same six sources (tests/fakes/exchanges.py, 20 ms per response
  like ../shared/bench/fake_binance.py). Binance's REST fake also serves the hot pair
  BTC/USDT: the source has a single ``baseUrl``, and fake_binance.py does not know the
  B000.. symbols, so the aggregator would drop (and unsubscribe) every binance stream pair
  on its first REST answer ("unknown symbol").

Each pair is requested once (so the aggregator tracks it and ``set_pairs`` subscribes it),
then, with every stream subscribed, two phases are measured in the same run:

* idle      -- streams connected, nothing published;
* streaming -- the fakes publish ``--rate`` msg/s (after a ramp-up).

Each phase has a quiet window (no HTTP load: the aggregator's CPU for the streams alone) and a
``wrk -t2 -c50 -d10s`` window on ``GET /quote/binance/BTC/USDT`` (the core issue's hot-cache
workload, ../shared/bench/wrk_json.lua). Reported per phase: req/s, p50/p99, the aggregator
process CPU% (utime+stime of /proc/<pid>/stat, all threads; "cpu% load" under wrk, "cpu%
quiet" without), the fakes' publisher CPU% (it shares the two cores) and the stream
messages/quotes ingested per second (``sealfeed_aggregator_stream_{messages,quotes}_total``
from its /metrics; n/a when the service does not export the series). The added p99 is
streaming p99 minus idle p99 of the same run. Prints one JSON line, then a human table.

  uv run python bench/aggregator_streams.py [--runs 3] [--rate 5000] [--pairs 20]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import os
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED_BENCH = next(
    (p for p in (ROOT.parent / "shared" / "bench", ROOT / "shared" / "bench") if p.is_dir()),
    ROOT.parent / "shared" / "bench",
)
SOURCES = ("binance", "okx", "kraken", "coinbase", "cryptocompare", "finnhub")
# the pairs bench/streams.py publishes (see its QUOTE table and docs/streams.md)
QUOTE = {"binance": "USDT", "okx": "USDT", "kraken": "USD", "coinbase": "USD",
         "cryptocompare": "USD", "finnhub": "USDT"}  # fmt: skip
KEYED = ("cryptocompare", "finnhub")
API_KEY = "bench-key"
HOT = "/quote/binance/BTC/USDT"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def bases(pairs: int) -> list[str]:
    return [f"B{i:03d}" for i in range(pairs)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, timeout: float = 10) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:  # timeout, refused
        return 0, b""


def cpu_ticks(pid: int) -> int:
    # /proc/<pid>/stat: fields after the ")" of comm; utime and stime are fields 14 and 15
    rest = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(rest[11]) + int(rest[12])


def stream_counters(url: str) -> dict[str, float | None]:
    """Sum of the stream message/quote counters over all sources, from /metrics (None: the
    service does not export that series)."""
    _, body = get(url + "/metrics")
    out: dict[str, float | None] = {"messages": None, "quotes": None}
    for line in body.decode().splitlines():
        for key in out:
            name = f"sealfeed_aggregator_stream_{key}_total"
            if line.startswith(f"# TYPE {name} "):
                out[key] = out[key] or 0.0  # exported, no labelled sample yet
            elif line.startswith(name):
                out[key] = (out[key] or 0.0) + float(line.rsplit(" ", 1)[1])
    return out


def rate(m0: dict[str, float | None], m1: dict[str, float | None], key: str, wall: float) -> Any:
    a, b = m0[key], m1[key]
    return None if a is None or b is None else round((b - a) / wall, 1)


# ---------------------------------------------------------------- child: REST fakes
def _child_rest(args: argparse.Namespace) -> None:
    import asyncio

    sys.path.insert(0, str(ROOT))
    from tests.fakes.exchanges import FakeExchange

    async def main() -> None:
        urls = {}
        for name in SOURCES:
            prices = {(b, QUOTE[name]): "100.00000000" for b in bases(args.pairs)}
            if name == "binance":
                prices[("BTC", "USDT")] = "65000.12345678"
            fx = FakeExchange(
                name,
                prices=prices,
                latency_s=args.latency_ms / 1000,
                api_key=API_KEY if name in KEYED else None,
            )
            urls[name] = await fx.start()
        print(json.dumps(urls), flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()

    asyncio.run(main())


# ---------------------------------------------------------------- processes
class Group:
    """Every process started here: own process group, killed as a group at the end."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[Any]] = []

    def start(self, argv: list[str], **kw: Any) -> subprocess.Popen[Any]:
        p = subprocess.Popen(argv, cwd=ROOT, start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for p in reversed(self.procs):
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def readline(stream: Any, timeout: float, what: str) -> str:
    box: list[str] = []
    t = threading.Thread(target=lambda: box.append(stream.readline()), daemon=True)
    t.start()
    t.join(timeout)
    if not box or not box[0]:
        raise RuntimeError(f"{what}: no output within {timeout:.0f} s")
    return box[0]


def sealfeed(*argv: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run(
        [sys.executable, "-m", "sealfeed", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if out.returncode != 0:
        raise RuntimeError(f"sealfeed {argv[0]} {argv[1]}: {out.stderr.strip()}")
    return out.stdout


def write_signed_config(
    tmp: Path, port: int, ws: dict[str, str], rest: dict[str, str]
) -> tuple[Path, Path]:
    sys.path.insert(0, str(ROOT / "src"))
    from sealfeed.config.example import example_solution

    sol = example_solution(secrets_dir=str(tmp / "secrets"))
    agg = sol["priceAggregatorConfig"]
    agg["port"] = port
    agg["sources"] = {}
    for name in SOURCES:
        src: dict[str, Any] = {
            "enabled": True,
            "ttl": 300_000,  # as the core benchmark: the hot pair stays cached
            "baseUrl": rest[name],
            "rps": 1000,  # local fakes: no public-API budget to respect
            "stream": {"wsUrl": ws[name], "batchSize": 50, "rateLimit": 10},
        }
        if name in KEYED:
            src["apiKey"] = API_KEY
        agg["sources"][name] = src
    # the example's feeds name sources we keep; nothing else refers to the aggregator
    cfg = tmp / "configuration.json"
    cfg.write_text(json.dumps(sol, indent=2))
    sealfeed("config", "keygen", "--out", str(tmp / "key"))
    sealfeed("config", "sign", "--key", str(tmp / "key.pem"), "--embed", str(cfg))
    return cfg, tmp / "key.pub"


def wrk(url: str, seconds: int) -> dict[str, Any]:
    out = subprocess.run(
        ["wrk", "-t2", "-c50", f"-d{seconds}s", "-s", str(SHARED_BENCH / "wrk_json.lua"), url],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    ).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith('{"tool":"wrk"'))
    return dict(json.loads(line))


def window(pid: int, pub_pid: int, url: str, seconds: float, load: bool) -> dict[str, Any]:
    """CPU (aggregator, and the fakes' publisher sharing the cores) and stream counters over
    one window, with or without the wrk load."""
    m0 = stream_counters(url)
    c0, p0, t0 = cpu_ticks(pid), cpu_ticks(pub_pid), time.monotonic()
    http = wrk(url + HOT, int(seconds)) if load else None
    if not load:
        time.sleep(seconds)
    c1, p1, t1 = cpu_ticks(pid), cpu_ticks(pub_pid), time.monotonic()
    m1 = stream_counters(url)
    wall = t1 - t0
    out: dict[str, Any] = {
        "cpu_percent": round(100 * (c1 - c0) / CLK_TCK / wall, 1),
        "publisher_cpu_percent": round(100 * (p1 - p0) / CLK_TCK / wall, 1),
        "stream_msgs_per_s": rate(m0, m1, "messages", wall),
        "stream_quotes_per_s": rate(m0, m1, "quotes", wall),
        "wall_s": round(wall, 2),
    }
    if http is not None:
        lat = http["latency_ms"]
        out.update(
            rps=http["rps"],
            p50_ms=lat["p50"],
            p99_ms=lat["p99"],
            max_ms=lat["max"],
            errors=sum(http["errors"].values()),
        )
    return out


# ---------------------------------------------------------------- one run
def one_run(args: argparse.Namespace) -> dict[str, Any]:
    group = Group()
    tmp = Path(tempfile.mkdtemp(prefix="sealfeed-bench-streams-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    ramp, quiet, load = 2.0, float(args.quiet), int(args.duration)
    publish_s = ramp + quiet + load + 8.0  # ramp-up + both windows + slack
    try:
        streams = group.start(
            [sys.executable, str(ROOT / "bench" / "streams.py"), "--serve",
             "--rate", str(args.rate), "--pairs", str(args.pairs),
             "--duration", str(publish_s)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        rest_p = group.start(
            [sys.executable, __file__, "_rest", "--pairs", str(args.pairs),
             "--latency-ms", "20"],
            stdout=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        assert streams.stdin and streams.stdout and rest_p.stdout
        ws = json.loads(readline(streams.stdout, 30, "bench/streams.py --serve"))
        rest = json.loads(readline(rest_p.stdout, 30, "REST fakes"))

        port = free_port()
        cfg, pub = write_signed_config(tmp, port, ws, rest)
        rfd, wfd = os.pipe()
        agg = group.start(
            [sys.executable, "-m", "sealfeed", "aggregator", "serve", "--config", str(cfg),
             "--pubkey", str(pub), "--secrets-dir", str(tmp / "secrets"),
             "--server", args.server, "--notify-fd", str(wfd)],
            pass_fds=(wfd,), env=env, stdout=subprocess.DEVNULL,
            stderr=open(tmp / "aggregator.log", "wb"),  # noqa: SIM115 - closed with the process
        )  # fmt: skip
        os.close(wfd)
        ready, _, _ = select.select([rfd], [], [], 60)
        if not ready or not os.read(rfd, 1):
            raise RuntimeError(f"aggregator not ready; log: {tmp / 'aggregator.log'}")
        os.close(rfd)
        url = f"http://127.0.0.1:{port}"

        # track every stream pair (one GET each) and the hot pair
        paths = [HOT] + [f"/quote/{s}/{b}/{QUOTE[s]}" for s in SOURCES for b in bases(args.pairs)]
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(lambda p: get(url + p, 30)[0], paths))
        bad = [p for p, st in zip(paths, statuses, strict=True) if st != 200]
        if bad:
            log = (tmp / "aggregator.log").read_text()[-2000:]
            raise RuntimeError(f"{len(bad)} tracking GETs failed, e.g. {bad[:3]}\n{log}")
        # wait until every stream is connected with all its pairs subscribed
        deadline = time.monotonic() + 60
        while True:
            st = json.loads(get(url + "/sources")[1])["sources"]
            streams_st = {s: st[s].get("stream") or {} for s in SOURCES}
            if all(
                v.get("connected") and v.get("subscribed_pairs", 0) >= args.pairs
                for v in streams_st.values()
            ):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"streams never subscribed: {streams_st}")
            time.sleep(0.2)
        time.sleep(1.0)  # the fakes see the subscriptions (their own wait loop)

        idle_quiet = window(agg.pid, streams.pid, url, quiet, load=False)
        idle = window(agg.pid, streams.pid, url, load, load=True)
        streams.stdin.write("go\n")
        streams.stdin.flush()
        time.sleep(ramp)
        busy_quiet = window(agg.pid, streams.pid, url, quiet, load=False)
        busy = window(agg.pid, streams.pid, url, load, load=True)
        st = json.loads(get(url + "/sources")[1])["sources"]
        reconnects = sum((st[s].get("stream") or {}).get("reconnects", 0) for s in SOURCES)
        sent = json.loads(readline(streams.stdout, publish_s + 30, "publisher summary"))
        streams.stdin.write("bye\n")
        streams.stdin.flush()
        return {
            "sent_msgs_per_s": round(sent["sent"] / sent["seconds"], 1),
            "idle_quiet": idle_quiet,
            "idle": idle,
            "streaming_quiet": busy_quiet,
            "streaming": busy,
            "added_p99_ms": round(busy["p99_ms"] - idle["p99_ms"], 3),
            "added_p50_ms": round(busy["p50_ms"] - idle["p50_ms"], 3),
            "rps_change_percent": round(100 * (busy["rps"] / idle["rps"] - 1), 1),
            "reconnects": reconnects,
        }
    finally:
        group.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="cmd")
    r = sub.add_parser("_rest")
    r.add_argument("--pairs", type=int, default=20)
    r.add_argument("--latency-ms", type=float, default=20)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--rate", type=int, default=5000, help="stream messages/s over all sources")
    ap.add_argument("--pairs", type=int, default=20, help="stream pairs per source")
    ap.add_argument("--duration", type=int, default=10, help="wrk seconds per phase")
    ap.add_argument("--quiet", type=int, default=5, help="seconds of the no-load CPU windows")
    ap.add_argument("--server", default="granian", choices=("granian", "uvicorn", "hypercorn"))
    args = ap.parse_args()
    if args.cmd == "_rest":
        _child_rest(args)
        return 0
    if shutil.which("wrk") is None:
        sys.stderr.write("wrk not installed (Debian package wrk)\n")
        return 3
    runs = [one_run(args) for _ in range(args.runs)]

    def med(key: str, phase: str | None = None) -> float:
        vals = [(x[phase] if phase else x)[key] for x in runs]
        return round(float(statistics.median(vals)), 3)

    result: dict[str, Any] = {
        "bench": "aggregator_streams",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpus": os.cpu_count(),
        "server": args.server,
        "sources": len(SOURCES),
        "pairs_per_source": args.pairs,
        "target_msgs_per_s": args.rate,
        "runs": runs,
        "median": {
            "idle_rps": med("rps", "idle"),
            "streaming_rps": med("rps", "streaming"),
            "idle_p99_ms": med("p99_ms", "idle"),
            "streaming_p99_ms": med("p99_ms", "streaming"),
            "added_p99_ms": med("added_p99_ms"),
            "streaming_quotes_per_s": med("stream_quotes_per_s", "streaming"),
            "streams_only_quotes_per_s": med("stream_quotes_per_s", "streaming_quiet"),
            "cpu_percent_streams_only": med("cpu_percent", "streaming_quiet"),
            "cpu_percent_idle_load": med("cpu_percent", "idle"),
            "cpu_percent_streaming_load": med("cpu_percent", "streaming"),
            "publisher_cpu_percent_streaming": med("publisher_cpu_percent", "streaming_quiet"),
        },
    }
    print(json.dumps(result))
    _human(result)
    return 0


def _num(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.0f}"


def _human(r: dict[str, Any]) -> None:
    print(
        f"{r['sources']} sources x {r['pairs_per_source']} pairs, target "
        f"{r['target_msgs_per_s']} msg/s, server {r['server']}, {r['cpus']} CPUs"
    )
    head = (
        f"{'run':>3} {'phase':10} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'cpu% load':>9}"
        f" {'cpu% quiet':>10} {'msgs/s':>8} {'quotes/s':>8} {'pub cpu%':>8}"
    )
    print(head)
    for i, x in enumerate(r["runs"], 1):
        for phase in ("idle", "streaming"):
            h, q = x[phase], x[f"{phase}_quiet"]
            print(
                f"{i:>3} {phase:10} {h['rps']:>8.0f} {h['p50_ms']:>7.2f} {h['p99_ms']:>7.2f}"
                f" {h['cpu_percent']:>9.1f} {q['cpu_percent']:>10.1f}"
                f" {_num(h['stream_msgs_per_s']):>8} {_num(h['stream_quotes_per_s']):>8}"
                f" {q['publisher_cpu_percent']:>8.1f}"
            )
        print(
            f"{i:>3} added p99 {x['added_p99_ms']:+.2f} ms, req/s {x['rps_change_percent']:+.1f}%,"
            f" published {x['sent_msgs_per_s']:.0f} msg/s, reconnects {x['reconnects']}"
        )


if __name__ == "__main__":
    sys.exit(main())
