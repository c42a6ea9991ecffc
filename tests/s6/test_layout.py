"""The image's /etc/sealfeed/layout.json against a configuration (issue #15 item 5, ADR 0101).

Pure checks here; the refusal through the real /init boot is in test_image_boot.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sealfeed.cli import main
from sealfeed.config.model import ApplianceConfig
from sealfeed.errors import InputError
from sealfeed.s6.graph import build_services
from sealfeed.s6.layout import check_layout, layout_mismatches, load_layout, parse_layout
from sealfeed.s6.model import RenderOptions
from tests.fixtures.s6 import s6_make_config


def _layout(slots: int = 5, **over: Any) -> dict[str, Any]:
    """The shape modules/*.nix write with their defaults (docs/nix.md)."""
    doc: dict[str, Any] = {
        "version": "0.1.0",
        "nodes": {
            "total": slots,
            "bootstrap": [1],
            "specs": [
                {
                    "index": i,
                    "role": "oracle",
                    "api_port": 6600 + i,
                    "p2p_port": 9900 + i,
                    "os_user": f"chainlink-{i}",
                    "uid": 1000 + i,
                    "workdir": f"/chainlink/node-{i}",
                    "database": f"chainlink_node_{i}",
                }
                for i in range(1, slots + 1)
            ],
        },
        "postgres": {
            "port": 5432,
            "data_dir": "/sp/postgresql/data",
            "socket_dir": "/run/postgresql",
            "user": "postgres",
        },
        "aggregator": {"host": "127.0.0.1", "port": 3000, "user": "sealfeed"},
        "exporter": {"host": "127.0.0.1", "port": 3003, "interval_ms": 5000, "user": "sealfeed"},
        "monitoring": {"instance": "x", "environment": "production"},
        "users": {
            n: {"uid": 1, "group": "g"}
            for n in [
                "postgres",
                "sealfeed",
                "sealfeed-log",
                "chainlink",
                *(f"chainlink-{i}" for i in range(1, slots + 1)),
            ]
        },
        "log_dir": "/var/log/sealfeed",
        "secrets_dir": "/sp/secrets",
    }
    doc.update(over)
    return doc


def _problems(cfg: Any, doc: dict[str, Any]) -> list[str]:
    services = build_services(cfg, RenderOptions())
    return [str(m) for m in layout_mismatches(cfg, services, parse_layout(doc, "layout.json"))]


def test_a_configuration_the_image_provisions_fits() -> None:
    assert _problems(s6_make_config(5), _layout(5)) == []
    assert _problems(s6_make_config(3), _layout(16)) == []  # fewer nodes than slots is fine


def test_more_nodes_than_slots() -> None:
    assert _problems(s6_make_config(6), _layout(5)) == [
        "totalNodes = 6, but this image provides 5 node slots (nodes.total)"
    ]


def test_ports_dirs_and_accounts_not_provisioned() -> None:
    cfg = s6_make_config(2, api_base_port=7000, pg_port=5433, log_dir="/logs",
                         socket_dir="/tmp/pg")  # fmt: skip
    doc = _layout(2)
    del doc["users"]["sealfeed-log"]
    problems = _problems(cfg, doc)
    assert problems == [
        "sealfeed.nodes.apiBasePort gives node 1 API port 7001, but this image provides 6601 "
        "(nodes.specs[0].api_port)",
        "pgPort = 5433, but this image provides 5432 (postgres.port)",
        "sealfeed.postgres.socketDir = /tmp/pg, but this image provides /run/postgresql "
        "(postgres.socket_dir)",
        "sealfeed.logDir = /logs, but this image provides /var/log/sealfeed (log_dir)",
        "service postgres-log runs as sealfeed-log, but this image provides no such account "
        "(users)",
    ]


def test_the_links_own_account_must_exist() -> None:
    """The link drops to sealfeed-link itself (``--user``, ADR 0145): an image without that
    account is refused before anything starts, like one without a supervisor-dropped user."""
    from sealfeed.config.placement import local_view
    from tests.multivm.solution import multi_vm_solution, parse

    cfg = local_view(parse(multi_vm_solution((("vm-a", (1, 2), "10.9.0.2:7400"),
                                              ("vm-b", (3,), "10.9.0.3:7400")))), "vm-a")  # fmt: skip
    doc = _layout(3)
    assert _problems(cfg, doc) == [
        "service link runs as sealfeed-link, but this image provides no such account (users)"
    ]
    doc["users"]["sealfeed-link"] = {"uid": 902, "group": "sealfeed-link"}
    assert _problems(cfg, doc) == []


def test_absent_sections_are_not_checked() -> None:
    doc = {"nodes": {"total": 2}}
    assert _problems(s6_make_config(2, pg_port=1), doc) == []


@pytest.mark.parametrize(
    ("doc", "where"),
    [
        ([], "(top level): expected an object"),
        ({}, "nodes: missing"),
        ({"nodes": {"total": "16"}}, "nodes.total: expected a non-negative integer, got '16'"),
        ({"nodes": {"total": 2, "specs": [{"index": 1}]}}, "nodes.specs[0].api_port"),
        ({"nodes": {"total": 2}, "postgres": {"port": True}}, "postgres.port"),
        ({"nodes": {"total": 2}, "users": []}, "users: expected an object"),
    ],
)
def test_malformed_layout_is_a_precise_error(doc: object, where: str) -> None:
    with pytest.raises(InputError, match="image layout") as err:
        parse_layout(doc, "/etc/sealfeed/layout.json")
    assert where in str(err.value) and err.value.location == "/etc/sealfeed/layout.json"


def test_unreadable_layout_fails_closed(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read the image layout"):
        load_layout(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(InputError, match="not JSON"):
        load_layout(tmp_path / "bad.json")


def test_check_layout_is_one_line() -> None:
    cfg = s6_make_config(7, api_base_port=7000)
    with pytest.raises(InputError) as err:
        check_layout(cfg, (), parse_layout(_layout(5), "/etc/sealfeed/layout.json"))  # type: ignore[arg-type]
    text = str(err.value)
    assert "\n" not in text and text.startswith("/etc/sealfeed/layout.json: configuration does")
    assert "totalNodes = 7" in text and "apiBasePort" in text


def test_render_refuses_and_records_the_cause(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def six_nodes(args: object) -> ApplianceConfig:
        return s6_make_config(6)

    layout = tmp_path / "layout.json"
    layout.write_text(json.dumps(_layout(5)))
    out, results = tmp_path / "tree", tmp_path / "results"
    argv = ["s6", "render", "--config", "/sp/c.json", "--out", str(out), "--layout", str(layout),
            "--record-cause", str(results)]  # fmt: skip
    assert main(argv, load_config=six_nodes) == 2
    err = capsys.readouterr().err
    assert "totalNodes = 6, but this image provides 5 node slots (nodes.total)" in err
    assert not out.exists()  # nothing rendered
    assert (results / "exitcode").read_text() == "2\n"
    assert "config-verify: configuration rejected" in (results / "cause").read_text()
    layout.write_text(json.dumps(_layout(6)))
    assert main(argv, load_config=six_nodes) == 0 and (out / "s6-rc.d").is_dir()
