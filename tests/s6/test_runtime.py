"""One runtime description for the image and local mode (issue #21, item 3; ADR 0102).

Both modes render the same graph; the image compiles it with the real s6-rc-compile, local mode
converts it to a scandir. A service added to the graph therefore appears in both, and these
tests derive what must be there from the rendered manifest, never from a second list.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sealfeed.s6 import RenderOptions, check_tree, render_service_tree, write_tree
from sealfeed.s6.graph import build_services
from sealfeed.s6.local import scandir_tree
from sealfeed.s6.model import IMAGE_HALT, IMAGE_RESULTS_DIR, IMAGE_RUN_SERVICE_DIR
from sealfeed.s6.runtime import image_runtime, local_runtime
from tests.fixtures.s6 import s6_make_config


def _graph(opts: RenderOptions, nodes: int) -> list[tuple[Any, ...]]:
    cfg = s6_make_config(nodes)
    return [
        (s.name, s.type, s.dependencies, s.logger, s.consumer_for, s.contents, s.notification_fd)
        for s in build_services(cfg, opts)  # type: ignore[arg-type]
    ]


@pytest.mark.parametrize("nodes", [1, 5, 16])
def test_image_and_local_render_the_same_graph(nodes: int, tmp_path: Path) -> None:
    image = image_runtime().render_options()
    local = local_runtime(tmp_path / "state").render_options(drop_privileges=False)
    assert _graph(image, nodes) == _graph(local, nodes)


def test_runtime_paths() -> None:
    rt = image_runtime()
    assert (rt.scandir, rt.results_dir, rt.halt) == (
        IMAGE_RUN_SERVICE_DIR,
        IMAGE_RESULTS_DIR,
        IMAGE_HALT,
    )
    assert rt.source_dir == "/etc/s6-overlay/s6-rc.d"
    test_root = image_runtime("/tmp/root/run", "/tmp/root/run/s6/tree")
    assert test_root.halt == "/tmp/root/run/s6/basedir/bin/halt"
    assert test_root.service_env() == {
        "SEALFEED_SCANDIR": "/tmp/root/run/service",
        "SEALFEED_S6_SOURCE_DIR": "/tmp/root/run/s6/tree/s6-rc.d",
        "SEALFEED_ATTESTATION": "/tmp/root/run/sealfeed/attestation.json",
    }
    loc = local_runtime("/srv/state")
    assert (loc.scandir, loc.tree_root, loc.halt) == (
        "/srv/state/run/service",
        "/srv/state/etc/s6-overlay",
        "watch",
    )
    opts = test_root.render_options(chainlink_bin="/x/chainlink")
    assert (opts.run_service_dir, opts.results_dir, opts.halt, opts.chainlink_bin) == (
        test_root.scandir,
        test_root.results_dir,
        test_root.halt,
        "/x/chainlink",
    )


def _db(skarnet: Path, compiled: Path, *args: str) -> list[str]:
    out = subprocess.run(
        [str(skarnet / "s6-rc-db"), "-c", str(compiled), *args],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return sorted(out.stdout.split())


@pytest.mark.parametrize("nodes", [1, 5, 16])
def test_the_real_s6_rc_compiles_the_image_tree_as_the_manifest_says(
    nodes: int, tmp_path: Path, skarnet_bin: Path
) -> None:
    """The tree /init compiles (it did not: ``undefined service name base``), and the
    compiled database holds exactly the manifest's services with the manifest's edges."""
    rt = image_runtime(str(tmp_path / "run"), str(tmp_path / "tree"))
    tree = render_service_tree(s6_make_config(nodes), rt.render_options())  # type: ignore[arg-type]
    root = write_tree(tree, tmp_path / "tree")
    assert check_tree(root) == []
    compiled = tmp_path / "compiled"
    proc = subprocess.run(
        [str(skarnet_bin / "s6-rc-compile"), str(compiled), str(root / "s6-rc.d")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((root / "sealfeed-services.json").read_text())
    services = {s["name"]: s for s in manifest["services"]}
    internal = {"s6rc-fdholder", "s6rc-oneshot-runner"}
    assert _db(skarnet_bin, compiled, "list", "services") == sorted({*services, *internal})
    bundles = {"user"} | {f"{s['name']}-pipeline" for s in services.values() if s["logger"]}
    assert _db(skarnet_bin, compiled, "list", "bundles") == sorted(bundles)
    assert _db(skarnet_bin, compiled, "contents", "user") == sorted(services)
    for name, svc in services.items():
        deps = set(_db(skarnet_bin, compiled, "dependencies", name)) - internal
        if svc["logger"]:  # s6-rc makes a producer depend on its logger
            deps.discard(svc["logger"])
        assert deps == set(svc["dependencies"]), name


def test_local_scandir_holds_every_manifest_service(tmp_path: Path) -> None:
    rt = local_runtime(tmp_path / "state")
    tree = render_service_tree(s6_make_config(3), rt.render_options(drop_privileges=False))  # type: ignore[arg-type]
    root = write_tree(tree, rt.tree_root)
    manifest = json.loads((root / "sealfeed-services.json").read_text())
    loggers = {s["logger"] for s in manifest["services"] if s["logger"]}
    files = scandir_tree(root).files
    dirs = {rel.split("/")[0] for rel in files}
    assert dirs == {s["name"] for s in manifest["services"]} - loggers
    for svc in manifest["services"]:
        if svc["logger"]:
            assert f"{svc['name']}/log/run" in files
