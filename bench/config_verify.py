"""Benchmark: configuration verifications per second, both schemes.

Prints one JSON line, then a human table. `uv run python bench/config_verify.py [--seconds N]`
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import tempfile
import time
from pathlib import Path

from sealfeed.config import signing
from sealfeed.config.example import example_solution
from sealfeed.config.loader import Trust, load_verified_config


def rate(fn: object, seconds: float) -> float:
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()  # type: ignore[operator]
        n += 1
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for scheme in signing.Scheme:
            key = signing.generate_key(scheme)
            trust = Trust(key.public(), "bench")
            sol = copy.deepcopy(example_solution())
            path = Path(tmp) / f"{scheme.value}.json"
            if scheme is signing.Scheme.REFERENCE:
                sol["signature"] = signing.sign_reference(sol, key)
                results[f"{scheme.value} signature only"] = rate(
                    lambda s=sol, k=key: signing.verify_reference(s, k.public()), args.seconds
                )
            else:
                sig = signing.sign_modern(sol, key)
                Path(str(path) + ".sig").write_text(json.dumps(sig))
                results[f"{scheme.value} signature only"] = rate(
                    lambda s=sol, d=sig, k=key: signing.verify_modern(s, d, k.public()),
                    args.seconds,
                )
            path.write_text(json.dumps({"solution": sol}))
            results[f"{scheme.value} full load_verified_config"] = rate(
                lambda p=path, t=trust: load_verified_config(p, t), args.seconds
            )
    doc = {"bench": "config_verify", "python": platform.python_version(),
           "verifications_per_s": {k: round(v, 1) for k, v in results.items()}}  # fmt: skip
    print(json.dumps(doc))
    print(f"{'case':<50} {'verifications/s':>16}")
    for k, v in results.items():
        print(f"{k:<50} {v:>16.1f}")


if __name__ == "__main__":
    main()
