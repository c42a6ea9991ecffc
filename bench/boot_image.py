"""Image-mode boot and ordered shutdown of the real /init, beside local mode, in one run.

Image mode: pkgs/init's /init as PID 1 of its own PID + mount namespace on a temporary root
(tests/fixtures/s6.py ImageRoot), s6 2.15 / s6-rc 0.6 built from ../shared/skarnet, real
PostgreSQL, the real sealfeed verify/render/pg/chainlink render/aggregator/exporter under the
image's accounts; the Chainlink binary is tests/s6/chainlink_standin.py (answers /health).

* ``boot_s``: /init started -> ``sealfeed-init: all services started`` (s6-rc has brought the
  ``user`` bundle up, every longrun ready).
* ``stop_s``: SIGTERM to PID 1 (docker stop) -> /init's namespace gone (reverse-order stop
  through s6-rc, then s6-svscan's finish).

Local mode (``sealfeed up`` machinery: same signed configuration, same components, same
Chainlink stand-in, plain s6-svscan): ``Appliance.start`` -> every service ready, and
``shutdown``. Reported side by side with the ratio image/local. Needs root (unshare).

Usage: uv run python bench/boot_image.py [--nodes 5] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fixtures.s6 import ImageRoot, build_skarnet  # noqa: E402

from sealfeed.s6.up import Appliance, UpOptions  # noqa: E402

STARTED = "sealfeed-init: all services started"


def _new_root(skarnet: Path, nodes: int) -> ImageRoot:
    base = Path(tempfile.mkdtemp(prefix="sealfeed-bench-image-", dir="/tmp"))
    img = ImageRoot(base, skarnet, nodes=nodes)
    img.provision()
    return img


def image_run(skarnet: Path, nodes: int) -> dict[str, float]:
    img = _new_root(skarnet, nodes)
    try:
        t0 = time.monotonic()
        img.start()
        while STARTED not in img.log():
            if img.proc is not None and img.proc.poll() is not None:
                raise SystemExit(f"image boot failed:\n{img.log()[-3000:]}")
            if time.monotonic() - t0 > 600:
                raise SystemExit("image boot timed out")
            time.sleep(0.02)
        boot = time.monotonic() - t0
        t1 = time.monotonic()
        os.kill(img.init_pid(), signal.SIGTERM)
        rc = img.wait_exit(300)
        stop = time.monotonic() - t1
        if rc != 0:
            raise SystemExit(f"image exit code {rc}:\n{img.log()[-3000:]}")
        return {"boot_s": boot, "stop_s": stop}
    finally:
        img.kill()
        shutil.rmtree(img.root, ignore_errors=True)


def local_run(skarnet: Path, nodes: int) -> dict[str, float]:
    img = _new_root(skarnet, nodes)  # the same signed configuration, paths and stand-in
    try:
        users: dict[str, str | None] = {f"chainlink-node-{i}": None for i in range(1, nodes + 1)}
        app = Appliance(
            img_config(img),
            UpOptions(
                state_dir=img.root / "state",
                config_path=str(img.config),
                pubkey_path=str(img.pubkey),
                chainlink_bin=str(img.bin / "chainlink"),
                users=users,
                catchall=str(img.root / "local-catchall.log"),
            ),
        )
        t0 = time.monotonic()
        app.start()
        ok = app.wait_ready(600)
        boot = time.monotonic() - t0
        t1 = time.monotonic()
        app.shutdown()
        stop = time.monotonic() - t1
        app.kill_leftovers(app.leftovers())
        if not ok:
            raise SystemExit(f"local mode not ready: {app.cause()}")
        return {"boot_s": boot, "stop_s": stop}
    finally:
        shutil.rmtree(img.root, ignore_errors=True)


def img_config(img: ImageRoot) -> object:
    from sealfeed.config.loader import load_verified_config, trust_from_args

    return load_verified_config(str(img.config), trust_from_args(str(img.pubkey), {}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root (unshare --pid --mount)")
    skarnet = build_skarnet()
    image, local = [], []
    for _ in range(args.runs):  # interleaved: both modes see the same machine load
        image.append(image_run(skarnet, args.nodes))
        local.append(local_run(skarnet, args.nodes))

    def med(runs: list[dict[str, float]], key: str) -> float:
        return round(statistics.median(r[key] for r in runs), 3)

    doc = {
        "bench": "s6.boot_image",
        "nodes": args.nodes,
        "runs": args.runs,
        "machine": f"{platform.machine()} {os.cpu_count()} cpus",
        "image_boot_s_median": med(image, "boot_s"),
        "image_stop_s_median": med(image, "stop_s"),
        "local_boot_s_median": med(local, "boot_s"),
        "local_stop_s_median": med(local, "stop_s"),
        "image_runs": image,
        "local_runs": local,
    }
    doc["boot_ratio_image_local"] = round(
        doc["image_boot_s_median"] / doc["local_boot_s_median"],
        2,  # type: ignore[operator]
    )
    doc["stop_ratio_image_local"] = round(
        doc["image_stop_s_median"] / doc["local_stop_s_median"],
        2,  # type: ignore[operator]
    )
    print(json.dumps(doc))
    print(f"\n{'mode':<8}{'init -> all ready (s)':>24}{'ordered stop (s)':>20}")
    for mode in ("image", "local"):
        print(f"{mode:<8}{doc[f'{mode}_boot_s_median']:>24}{doc[f'{mode}_stop_s_median']:>20}")
    print(
        f"\nimage/local: boot x{doc['boot_ratio_image_local']}, stop "
        f"x{doc['stop_ratio_image_local']} ({args.nodes} nodes, median of {args.runs})"
    )


if __name__ == "__main__":
    main()
