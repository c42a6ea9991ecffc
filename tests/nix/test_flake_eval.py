"""Every flake output evaluates with the real pinned inputs and the real nixpkgs `lib`.

Uses Debian's Nix 2.8 and ../shared/nix-eval (tests/nix/conftest.py). What this proves and
what it cannot (store paths of the stand-in packages say nothing about sources or digests):
docs/reproducibility.md, "What is proven where".
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

from packaging.markers import Marker
from packaging.utils import canonicalize_name

from tests.nix.conftest import NIX, ROOT, Flake, find_nix_eval, in_nix_build

SYSTEM = "x86_64-linux"
STORE_NAME = re.compile(r"^/nix/store/[0-9a-z]{32}-(?P<name>.+)$")


def test_nix_evaluation_never_skips_in_ci() -> None:
    """Outside a Nix build the tools for these tests are present: they run, never skip."""
    if in_nix_build():
        return
    assert NIX is not None, "nix missing: apt-get install nix-bin (scripts/test.sh does)"
    assert find_nix_eval() is not None, "../shared/nix-eval missing next to the checkout"


def test_flake_show_lists_every_output(flake: Flake) -> None:
    show = json.loads(flake.run("flake", "show", "--json").stdout)
    assert set(show) == {"apps", "checks", "devShells", "formatter", "lib", "packages"}
    assert set(show["packages"][SYSTEM]) == {
        "chainlink",
        "default",
        "image",
        "sealfeed",
        "verifier",
    }
    assert set(show["checks"][SYSTEM]) == {"modules-eval", "pytest", "ruff"}
    assert set(show["apps"][SYSTEM]) == {"default", "verify"}
    assert set(show["devShells"][SYSTEM]) == {"default"}
    for kind in ("packages", "checks", "devShells"):
        for name, out in show[kind][SYSTEM].items():
            assert out["type"] == "derivation", (kind, name)


def test_every_derivation_and_its_arguments_evaluate(summary: dict[str, Any]) -> None:
    """drvPath of each package, check, dev shell and the formatter; every derivation
    argument reachable from them forced (summary.nix `force`)."""
    expected = {
        "chainlink": "chainlink-2.27.0",
        "default": "sealfeed-0.1.0",
        "image": "sealfeed.tar.gz",
        "sealfeed": "sealfeed-0.1.0",
        "verifier": "sealfeed-verify",
    }
    assert {k: v["name"] for k, v in summary["packages"].items()} == expected
    groups = [*summary["packages"].values(), *summary["checks"].values(), summary["devShell"]]
    for out in groups:
        assert out["forced"] is True
        assert STORE_NAME.match(out["drvPath"]) and out["drvPath"].endswith(".drv")
    assert summary["formatter"].endswith("-nixfmt.drv")
    assert summary["devShell"]["env"]["UV_NO_SYNC"] == "1"
    assert "sealfeed-dev-env" in summary["devShell"]["packages"]


def test_the_verify_app_runs_the_verifier(summary: dict[str, Any]) -> None:
    apps = summary["apps"]
    assert apps["verify"] == apps["default"]
    assert apps["verify"]["type"] == "app"
    assert apps["verify"]["program"].endswith("-sealfeed-verify/bin/sealfeed-verify")


def test_modules_with_smallest_default_and_largest_node_count(summary: dict[str, Any]) -> None:
    mods = summary["modules"]
    for key, count in (("smallest", 1), ("default", 16), ("largest", 64)):
        m = mods[key]
        assert m["forced"] is True
        nodes = m["layout"]["nodes"]
        assert nodes["total"] == count == len(nodes["specs"])
        last = nodes["specs"][-1]
        assert (last["api_port"], last["p2p_port"]) == (6600 + count, 9900 + count)
        assert last["os_user"] == f"chainlink-{count}" and last["uid"] == 1000 + count
        assert m["layout"]["users"][f"chainlink-{count}"] == {
            "uid": 1000 + count,
            "group": "chainlink",
        }
        # postgres, sealfeed, sealfeed-log, sealfeed-link, chainlink + one user per node
        assert m["users"] == 5 + count
        # the image config does not depend on the node count
        assert m["config"] == mods["default"]["config"]
    # checks.modules-eval evaluates exactly these
    assert [layout["nodes"]["total"] for layout in summary["modulesEvalCheck"]] == [1, 16, 64]
    assert summary["modulesEvalCheck"][2] == mods["largest"]["layout"]
    assert summary["rejects"] == {
        "tooManyNodes": True,
        "noNodes": True,
        "escapingDirectory": True,
    }


def test_image_config(summary: dict[str, Any]) -> None:
    image = summary["image"]
    assert (image["name"], image["tag"], image["created"]) == (
        "sealfeed",
        "0.1.0",
        "1970-01-01T00:00:01Z",
    )
    assert image["maxLayers"] == 100  # explicit, not dockerTools' default (ADR 0107)
    assert image["enableFakechroot"] is False
    config = image["config"]
    assert config["Entrypoint"] == ["/init"] and config["User"] == "0:0"
    assert config["Env"] == sorted(config["Env"])
    key = (ROOT / "modules/keys/configuration-public-key.b64").read_text().strip()
    assert f"CONFIGURATION_PUBLIC_KEY={key}" in config["Env"]
    assert image["key"] == key + "\n"
    assert "ExposedPorts" not in config
    for needed in (
        "fake-nss",
        "ca-certificates",
        "sealfeed-0.1.0",
        "sealfeed-init",
        "sealfeed-rootfs",
        "chainlink-2.27.0",
        "postgresql_17",
        "s6",
        "s6-rc",
        "execline",
    ):
        assert needed in image["contents"], needed
    # fakeroot only, paths relative to the customisation layer
    for line in image["fakeRootCommands"].splitlines():
        assert re.fullmatch(r"(mkdir -p|chown \d+:\d+|chmod [0-7]{4}) \./[^ ]+", line), line
    assert "chown 0:900 ./sp/secrets\nchmod 0750 ./sp/secrets" in image["fakeRootCommands"]
    assert "cp /nix/store/" in image["rootfsScript"]
    assert "$out/etc/sealfeed/layout.json" in image["rootfsScript"]
    assert "$out/etc/sealfeed/configuration-public-key" in image["rootfsScript"]
    assert "--subst-var-by pubkey /etc/sealfeed/configuration-public-key" in image["initScript"]
    names = [line.split(":")[0] for line in image["nss"]["extraPasswdLines"]]
    assert names == sorted(names) and "chainlink-16" in names and "chainlink-17" not in names


def test_layout_json_holds_what_the_boot_check_compares(summary: dict[str, Any]) -> None:
    """/etc/sealfeed/layout.json: node count and indices, every port, users (wt-s6 reads it)."""
    layout = summary["image"]["layout"]
    assert layout["schema"] == "sealfeed.image.layout/v1"
    assert layout["version"] == "0.1.0"
    nodes = layout["nodes"]
    assert nodes["total"] == 16 and nodes["bootstrap"] == [1]
    assert (nodes["api_base_port"], nodes["p2p_base_port"]) == (6600, 9900)
    assert (nodes["os_user_prefix"], nodes["workdir_root"], nodes["database_prefix"]) == (
        "chainlink",
        "/chainlink",
        "chainlink_node",
    )
    assert [s["index"] for s in nodes["specs"]] == list(range(1, 17))
    assert layout["postgres"] == {
        "port": 5432,
        "data_dir": "/sp/postgresql/data",
        "socket_dir": "/run/postgresql",
        "user": "postgres",
    }
    assert (layout["aggregator"]["port"], layout["exporter"]["port"]) == (3000, 3003)
    assert layout["users"]["sealfeed"] == {"uid": 900, "group": "sealfeed"}
    # the link's own account (ADR 0145): /init's layout check refuses an image without it
    assert layout["users"]["sealfeed-link"] == {"uid": 902, "group": "sealfeed-link"}
    assert layout["groups"]["chainlink"] == 1000
    assert layout["exposed_ports"] == []
    # the keys mirror the configuration model the boot check compares against
    from sealfeed.config.model import DEFAULT_API_BASE_PORT, DEFAULT_P2P_BASE_PORT, NodesConfig

    assert (DEFAULT_API_BASE_PORT, DEFAULT_P2P_BASE_PORT) == (6600, 9900)
    model = NodesConfig(total=16)
    spec = model.node(3)
    layout3 = nodes["specs"][2]
    assert (spec.api_port, spec.p2p_port, spec.os_user, spec.workdir, spec.database) == (
        layout3["api_port"],
        layout3["p2p_port"],
        layout3["os_user"],
        layout3["workdir"],
        layout3["database"],
    )


# --- the shipped virtualenv: exactly the default dependencies --------------------------------

# the stand-in python (../shared/nix-eval/stub-nixpkgs/pkgs.nix: CPython 3.12.12, x86_64-linux)
MARKER_ENV = {
    "implementation_name": "cpython",
    "implementation_version": "3.12.12",
    "os_name": "posix",
    "platform_machine": "x86_64",
    "platform_python_implementation": "CPython",
    "platform_release": "",
    "platform_system": "Linux",
    "platform_version": "",
    "python_full_version": "3.12.12",
    "python_version": "3.12",
    "sys_platform": "linux",
}


def _applies(dep: dict[str, Any]) -> bool:
    marker = dep.get("marker")
    return marker is None or Marker(marker).evaluate({**MARKER_ENV, "extra": ""})


def default_closure(root: Path = ROOT) -> set[str]:
    """`name-version` of sealfeed and everything its default dependencies pull in (uv.lock)."""
    lock = tomllib.loads((root / "uv.lock").read_text())
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    packages: dict[str, dict[str, Any]] = {
        str(canonicalize_name(p["name"])): p for p in lock["package"]
    }
    project = str(canonicalize_name(pyproject["project"]["name"]))
    seen: set[str] = set()
    todo: list[tuple[str, tuple[str, ...]]] = [(project, ())]
    while todo:
        name, extras = todo.pop()
        pkg = packages[name]
        deps = [d for d in pkg.get("dependencies", []) if _applies(d)]
        for extra in extras:
            deps += [d for d in pkg.get("optional-dependencies", {}).get(extra, []) if _applies(d)]
        key = f"{name}[{','.join(extras)}]"
        if key in seen:
            continue
        seen.add(key)
        for dep in deps:
            todo.append((str(canonicalize_name(dep["name"])), tuple(dep.get("extra", ()))))
    names = {k.split("[")[0] for k in seen}
    return {f"{n}-{packages[n]['version']}" for n in names}


def test_venv_is_exactly_the_default_dependencies(summary: dict[str, Any]) -> None:
    """The image's venv: pyproject.toml `dependencies` and their closure, no extras, no groups.

    Holds whichever ASGI servers pyproject.toml lists by default: granian (ADR 0020) always;
    uvicorn/hypercorn only while they are default dependencies, never once they are extras."""
    names = set()
    for path in summary["venvDeps"]:
        m = STORE_NAME.match(path)
        assert m, path
        names.add(m["name"])
    assert names == default_closure()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    defaults = {
        canonicalize_name(re.split(r"[\[<>=!~; ]", d, maxsplit=1)[0])
        for d in pyproject["project"]["dependencies"]
    }
    shipped = {n.rsplit("-", 1)[0] for n in names}
    assert "granian" in shipped
    for server in ("uvicorn", "hypercorn"):
        assert (server in shipped) == (server in defaults), server
    for tool in ("pytest", "hypothesis", "ruff", "mypy", "dcap-qvl", "eth-account"):
        assert tool not in shipped, f"dev dependency {tool} in the image"


def test_default_closure_follows_extras_and_markers() -> None:
    """The reference closure itself: an extra requested by a dependency is followed, a
    dependency whose marker excludes Linux is not."""
    closure = {n.rsplit("-", 1)[0] for n in default_closure()}
    assert "sealfeed" in closure and "granian" in closure
    assert "pytest" not in closure and "ruff" not in closure
    assert "colorama" not in closure  # click's, on win32 only
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    assert any(p["name"] == "colorama" for p in lock["package"]), "uv.lock changed: pick another"


def test_chainlink_is_pinned_by_tag_and_fixed_output_hashes(summary: dict[str, Any]) -> None:
    cl = summary["chainlink"]
    assert cl["src"]["rev"] == "v2.27.0" and cl["proxyVendor"] is True
    assert cl["subPackages"] == ["."]
    for h in (cl["src"]["hash"], cl["vendorHash"], cl["operatorUi"]["hash"]):
        # an SRI hash: the placeholder lib.fakeHash until the workflow's lock job fills it
        assert re.fullmatch(r"sha256-[A-Za-z0-9+/]{43}=", h), h
