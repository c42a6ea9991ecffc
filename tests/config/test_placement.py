"""``sealfeed.placement``: every rule with the key it names, and one VM's view of the DON."""

from __future__ import annotations

import argparse
import copy
from typing import Any

import pytest

from sealfeed.config.args import config_from_args
from sealfeed.config.placement import local_view, placement_problems, remote_nodes, require_vm
from sealfeed.config.schema import ConfigInvalid
from sealfeed.errors import InputError
from tests.multivm.solution import THREE_VMS, multi_vm_solution, parse


def problems(sol: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigInvalid) as exc:
        parse(sol)
    return [str(p) for p in exc.value.problems]


def test_a_three_vm_placement_parses() -> None:
    cfg = parse(multi_vm_solution())
    assert [(e.name, e.nodes, e.address, e.listen) for e in cfg.placement] == [
        ("vm-a", (1,), "10.9.0.2:7400", None),
        ("vm-b", (2,), "10.9.0.3:7400", None),
        ("vm-c", (3,), "10.9.0.4:7400", None),
    ]
    assert cfg.link.measurements[0].measurements["0"].expected == "ab" * 48
    assert cfg.link.reattest_seconds == 300 and cfg.link.accepted_tcb_statuses == ("UpToDate",)
    assert cfg.vm is None  # the signed configuration names no VM


def test_absent_placement_is_one_vm_as_before() -> None:
    sol = multi_vm_solution()
    del sol["sealfeed"]["placement"], sol["sealfeed"]["link"]
    cfg = parse(sol)
    assert cfg.placement == () and local_view(cfg, None) is cfg
    with pytest.raises(InputError, match=r"has no sealfeed\.placement"):
        local_view(cfg, "vm-a")


def _with(**entry_changes: Any) -> dict[str, Any]:
    sol = multi_vm_solution()
    sol["sealfeed"]["placement"][1].update(entry_changes)
    return sol


@pytest.mark.parametrize(
    ("sol", "want"),
    [
        (_with(name="vm-a"), "sealfeed.placement[1].name: 'vm-a' is already placement[0]"),
        (_with(nodes=[1]), "sealfeed.placement[1].nodes: node 1 is already placed on vm-a"),
        (_with(nodes=[2, 7]), "sealfeed.placement[1].nodes: node 7 is not a node of this DON"),
        (_with(nodes=[]), "sealfeed.placement[1].nodes: a VM must run at least one node"),
        (_with(nodes=[3]), "sealfeed.placement: node(s) [2] are on no VM"),
        (
            _with(address="10.9.0.2:7400"),
            "sealfeed.placement[1].address: 10.9.0.2:7400 is also vm-a's",
        ),
        (
            _with(address="10.9.0.3:70000"),
            "sealfeed.placement[1].address: port 70000 is outside",
        ),
        (
            _with(address="0.0.0.0:7400"),
            "sealfeed.placement[1].address: 0.0.0.0 cannot be dialled",
        ),
        (_with(address="vm-b"), "sealfeed.placement[1].address: must match"),
        (_with(listen="0.0.0.0:0"), "sealfeed.placement[1].listen: port 0 is outside"),
    ],
    ids=[
        "dup-name",
        "node-twice",
        "foreign-node",
        "no-nodes",
        "unplaced",
        "dup-address",
        "port",
        "wildcard-address",
        "not-host-port",
        "listen-port",
    ],
)
def test_each_placement_rule_names_its_key(sol: dict[str, Any], want: str) -> None:
    assert any(p.startswith(want) for p in problems(sol)), problems(sol)


def test_the_bootstrap_node_must_be_reachable_by_all() -> None:
    sol = multi_vm_solution()
    sol["sealfeed"]["placement"][0]["address"] = "127.0.0.1:7400"  # vm-a hosts node 1
    assert problems(sol) == [
        "sealfeed.placement[0].address: bootstrap node 1 must be reachable by all VMs, but "
        "127.0.0.1:7400 is a loopback address: the other VMs cannot reach it (vm-b is at "
        "10.9.0.3:7400)"
    ]
    # every VM on loopback (one machine) is consistent
    for i, e in enumerate(sol["sealfeed"]["placement"]):
        e["address"] = f"127.0.0.{i + 2}:7400"
    parse(sol)


def test_several_vms_need_an_allow_list_and_loopback_p2p() -> None:
    sol = multi_vm_solution()
    del sol["sealfeed"]["link"]["measurements"]
    sol["sealfeed"]["nodes"] = {"p2pListenHost": "0.0.0.0", "p2pAnnounceHost": "10.9.0.2"}
    got = problems(sol)
    assert got[0].startswith("sealfeed.link.measurements: is required when the placement has")
    assert any(p.startswith("sealfeed.nodes.p2pListenHost: must be a loopback") for p in got)
    assert any(p.startswith("sealfeed.nodes.p2pAnnounceHost: must be a loopback") for p in got)
    sol = multi_vm_solution()
    sol["sealfeed"]["nodes"] = {"p2pListenHost": "127.0.0.1", "p2pAnnounceHost": "127.0.0.2"}
    assert problems(sol)[0].startswith("sealfeed.nodes.p2pAnnounceHost: must equal")


def test_measurement_values_are_checked_by_the_schema() -> None:
    sol = multi_vm_solution()
    sol["sealfeed"]["link"]["measurements"][0]["measurements"]["0"]["expected"] = "xyz"
    sol["sealfeed"]["link"]["measurements"][0]["measurements"]["99"] = {"expected": "ab" * 48}
    got = problems(sol)
    assert any("measurements[0].measurements.0.expected: must match" in p for p in got)
    assert any("measurements[0].measurements.99: unknown key" in p for p in got)


def test_a_single_entry_needs_no_name_and_no_allow_list() -> None:
    sol = multi_vm_solution(vms=(("only", (1, 2, 3), "10.9.0.2:7400"),))
    del sol["sealfeed"]["link"]
    cfg = parse(sol)
    view = local_view(cfg, None)
    assert view.vm == "only" and view.nodes.nodes_list == (1, 2, 3)
    assert view.exporter.push.grouping_labels == {}  # one VM: nothing to keep apart
    require_vm(cfg, None)


def test_local_view_is_one_vms_share_of_the_don() -> None:
    cfg = parse(multi_vm_solution())
    b = local_view(cfg, "vm-b")
    assert b.vm == "vm-b"
    assert [s.index for s in b.nodes.specs()] == [2]  # PostgreSQL roles, keys, node services
    assert b.nodes.bootstrap == (1,) and b.nodes.primary == (1, 2, 3)  # still one DON
    assert b.placement == cfg.placement and b.raw == cfg.raw
    # VMs push with one configuration: the VM name keeps their series apart
    assert b.exporter.push.grouping_labels["vm"] == "vm-b"
    assert b.aggregator.metrics_push.grouping_labels["vm"] == "vm-b"
    assert remote_nodes(b) == {1: "vm-a", 3: "vm-c"}
    assert local_view(cfg, None) is cfg  # no name: the whole DON (operators' tools)


def test_a_vm_must_know_its_name() -> None:
    cfg = parse(multi_vm_solution())
    with pytest.raises(InputError, match=r"'vm-x' is not a VM of sealfeed.placement \(vm-a, "):
        local_view(cfg, "vm-x", location="--vm")
    with pytest.raises(InputError, match="tell this VM its name") as exc:
        require_vm(cfg, None, location="--vm")
    assert exc.value.location == "--vm"


def test_config_from_args_applies_the_vm_from_flag_or_environment(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from sealfeed.config import signing

    key = signing.generate_key(signing.Scheme.REFERENCE)
    sol = multi_vm_solution()
    sol["signature"] = signing.sign_reference(sol, key)
    (tmp_path / "c.json").write_text(json.dumps({"solution": sol}))
    (tmp_path / "k.pub").write_bytes(signing.public_key_pem(key.public()))
    args = argparse.Namespace(config=str(tmp_path / "c.json"), pubkey=str(tmp_path / "k.pub"),
                              secrets_dir=None)  # fmt: skip
    monkeypatch.delenv("SEALFEED_VM", raising=False)
    assert config_from_args(args).vm is None
    monkeypatch.setenv("SEALFEED_VM", "vm-c")
    assert config_from_args(args).nodes.nodes_list == (3,)
    args.vm = "vm-a"  # the flag wins
    assert config_from_args(args).nodes.nodes_list == (1,)
    args.vm = "nope"
    with pytest.raises(InputError) as exc:
        config_from_args(args)
    assert exc.value.location == "--vm"


def test_the_rule_survives_other_invalid_parts() -> None:
    """The root rule runs even when other keys are invalid: it must not crash on them."""
    sol = multi_vm_solution()
    bad = copy.deepcopy(sol)
    bad["sealfeed"]["placement"][0] = "not an object"
    bad["sealfeed"]["placement"][1]["nodes"] = "x y"
    problems(bad)  # reports, never raises anything else
    assert placement_problems({"sealfeed": {"placement": [{"address": 5}]}}) != []


def test_three_vms_constant_is_what_the_helper_places() -> None:
    assert [e["name"] for e in multi_vm_solution()["sealfeed"]["placement"]] == [
        v[0] for v in THREE_VMS
    ]
