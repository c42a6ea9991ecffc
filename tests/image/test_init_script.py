"""pkgs/init: the image's PID 1 scripts against the one runtime description (static checks).

The scripts themselves are booted for real -- s6 2.15 / s6-rc built from source, real
PostgreSQL and sealfeed, as PID 1 of their own namespace -- in tests/s6/test_image_boot.py;
nothing here stands in for s6-rc. These tests pin what a boot cannot show directly: that
the placeholders default.nix fills are exactly the ones the scripts use, that the scripts
are valid POSIX sh once substituted, and that every path and variable /init uses is the one
:func:`sealfeed.s6.runtime.image_runtime` derives for the tree's hooks and the exporter.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from sealfeed.s6.model import IMAGE_HALT, IMAGE_RESULTS_DIR, IMAGE_RUN_SERVICE_DIR
from sealfeed.s6.runtime import ENV_ATTESTATION, ENV_SCANDIR, ENV_SOURCE_DIR, image_runtime
from tests.fixtures.s6 import INIT_DIR, nix_substitutions

SCRIPTS = ("init.sh", "halt.sh")
#: what pkgs/init/default.nix substitutes for the image (the shell and PATH are store paths)
IMAGE_VALUES = {
    "shell": "/bin/sh",
    "path": "/nix/store/x-sealfeed-init/bin:/bin:/usr/bin",
    "run": "/run",
    "treeroot": "/etc/s6-overlay",
    "pubkey": "/etc/sealfeed/configuration-public-key",
    "layout": "/etc/sealfeed/layout.json",
    "inputs": "/sp/inputs",
}


def _substituted(name: str) -> str:
    text = (INIT_DIR / name).read_text()
    for key, value in IMAGE_VALUES.items():
        text = text.replace(f"@{key}@", value)
    return text


def test_default_nix_fills_every_placeholder_and_no_other() -> None:
    used = set()
    for name in SCRIPTS:
        used |= set(re.findall(r"@(\w+)@", (INIT_DIR / name).read_text()))
    assert used == set(nix_substitutions()) == set(IMAGE_VALUES)
    nix = (INIT_DIR / "default.nix").read_text()
    for key, value in IMAGE_VALUES.items():
        if key not in ("shell", "path"):
            assert f"--subst-var-by {key} {value}" in nix


@pytest.mark.parametrize("name", SCRIPTS)
def test_scripts_are_posix_sh(name: str, tmp_path: Path) -> None:
    script = tmp_path / name
    script.write_text(_substituted(name))
    for shell in ("sh", "bash", "dash"):
        if shutil.which(shell):
            proc = subprocess.run([shell, "-n", str(script)], capture_output=True, text=True)
            assert proc.returncode == 0, f"{shell}: {proc.stderr}"


def test_init_paths_are_the_runtime_description() -> None:
    """init.sh, the rendered hooks and `sealfeed status` agree on every image path."""
    rt = image_runtime("/run", "/run/s6/tree")
    assert (rt.scandir, rt.results_dir, rt.halt) == (
        IMAGE_RUN_SERVICE_DIR,
        IMAGE_RESULTS_DIR,
        IMAGE_HALT,
    )
    init = _substituted("init.sh")
    assert "run=/run\n" in init
    assert "results=$run/s6-linux-init-container-results\n" in init
    assert "scandir=$run/service\n" in init
    assert "tree=$run/s6/tree\n" in init
    assert 'ln -sf "$(command -v sealfeed-halt)" "$run/s6/basedir/bin/halt"' in init
    assert '--run-dir "$run"' in init  # the render derives the same paths from the same dir
    assert f"{rt.compiled_dir.replace('/run', '$run')}" in init
    assert f"{rt.live_dir.replace('/run', '$run')}" in init
    # the exporter's variables: exactly the ones `sealfeed up` sets (Runtime.service_env)
    exported = re.search(r"^export (SEALFEED_\w+(?: SEALFEED_\w+)*)$", init, re.M)
    assert exported is not None
    assert (
        set(exported[1].split())
        == set(rt.service_env())
        == {
            ENV_SCANDIR,
            ENV_SOURCE_DIR,
            ENV_ATTESTATION,
        }
    )
    assert "SEALFEED_S6_SOURCE_DIR=$root/s6-rc.d" in init
    assert "SEALFEED_ATTESTATION=$run/sealfeed/attestation.json" in init


def test_halt_stops_in_order_once() -> None:
    halt = _substituted("halt.sh")
    assert 'mkdir "$run/s6/halting" 2>/dev/null || exit 0' in halt
    order = [halt.index("s6-rc -v2"), halt.index("exec s6-svscanctl -t")]
    assert order == sorted(order)
