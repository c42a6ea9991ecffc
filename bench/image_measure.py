"""Throughput of `sealfeed image measure` and `image diff` on a synthetic appliance-sized image.

Builds a docker-archive (gzip layers, gzip wrapper, like `nix build .#image`) with N files of
incompressible data in a temp dir, then times measure (hash + decompress + per-file hashing)
and a diff against a copy with one mtime changed. Prints one JSON line, then a human table.

    uv run python bench/image_measure.py [--mib 128] [--files 4000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.image.builders import Entry, Spec, docker_archive

from sealfeed.image import diff_archives, measurement, read_archive


def build(rnd: bytes, files: int, mtime: int) -> bytes:
    per = len(rnd)
    layers: list[list[Entry]] = [[], []]
    for i in range(files):
        data = rnd[i % per :] + rnd[: i % per]  # distinct contents, same size
        layers[i % 2].append(Entry(f"store/f{i:06d}", data, mtime=mtime if i == 7 else 1))
    return docker_archive(Spec(layers=layers, gzip_layers=True, outer_gzip=True))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=128)
    ap.add_argument("--files", type=int, default=4000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        a, b = Path(d) / "a.tar.gz", Path(d) / "b.tar.gz"
        t0 = time.perf_counter()
        rnd = os.urandom(max(1, (args.mib << 20) // args.files))
        a.write_bytes(build(rnd, args.files, 1))
        b.write_bytes(build(rnd, args.files, 2))
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        doc = measurement(read_archive(a))
        measure_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = diff_archives(read_archive(a), read_archive(b))
        diff_s = time.perf_counter() - t0
    mib_unc = doc["total_size"] / (1 << 20)
    result = {
        "bench": "image_measure",
        "archive_mib": round(doc["archive_size"] / (1 << 20), 1),
        "uncompressed_mib": round(mib_unc, 1),
        "files": doc["file_count"],
        "measure_s": round(measure_s, 2),
        "measure_mib_s": round(mib_unc / measure_s, 1),
        "diff_two_archives_s": round(diff_s, 2),
        "differences": len(report.differences),
        "build_fixture_s": round(build_s, 1),
    }
    print(json.dumps(result))
    print(f"{'archive (gzip)':<24}{result['archive_mib']:>10} MiB")
    unc, files = result["uncompressed_mib"], result["files"]
    print(f"{'uncompressed layers':<24}{unc:>10} MiB, {files} entries")
    print(f"{'measure':<24}{result['measure_s']:>10} s  ({result['measure_mib_s']} MiB/s)")
    diff_s, n = result["diff_two_archives_s"], result["differences"]
    print(f"{'diff (2 archives)':<24}{diff_s:>10} s  ({n} differences)")


if __name__ == "__main__":
    main()
