"""The link plan: validated up front, every error names its field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sealfeed.attest.trust import INTEL_SGX_ROOT_CA_SHA256
from sealfeed.errors import InputError
from sealfeed.link.plan import Address, load_plan, parse_address, parse_plan, plan_summary
from tests.link.conftest import allow_list


def doc(**over: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "vm": "vm-a",
        "listen": "10.0.0.2:7400",
        "peers": [
            {
                "name": "vm-b",
                "address": "10.0.0.3:7400",
                "forward": [{"listen": "127.0.0.1:9903", "target": "node-3-p2p"}],
            }
        ],
        "targets": {"node-1-p2p": "127.0.0.1:9901"},
        "policy": {"measurements": allow_list()},
        "collateral": {"file": "collateral.json"},
    }
    d.update(over)
    return d


def test_defaults_and_summary() -> None:
    plan = parse_plan(doc())
    assert plan.vm == "vm-a" and plan.listen == Address("10.0.0.2", 7400)
    assert plan.peers[0].forwards[0].listen == Address("127.0.0.1", 9903)
    assert plan.targets == {"node-1-p2p": Address("127.0.0.1", 9901)}
    assert plan.reattest_seconds == 300 and plan.probe_seconds == 30
    assert plan.max_quote_age == 660  # two periods + a minute
    assert plan.policy.attest.accepted_tcb_statuses == frozenset({"UpToDate"})
    assert plan.collateral.trust_roots == (INTEL_SGX_ROOT_CA_SHA256,)
    s = plan_summary(plan)
    assert s["peers"][0]["forward"] == [{"listen": "127.0.0.1:9903", "target": "node-3-p2p"}]
    assert s["measurements"] == ["sealfeed-0"]


def test_attest_policy_fields_pass_through() -> None:
    plan = parse_plan(
        doc(policy={"measurements": allow_list(), "accepted_tcb_statuses": ["UpToDate", "OutOfDate"],
                    "allowed_advisory_ids": ["INTEL-SA-00837"], "max_quote_age_seconds": 900})
    )  # fmt: skip
    assert plan.policy.attest.accepted_tcb_statuses == {"UpToDate", "OutOfDate"}
    assert plan.policy.attest.allowed_advisory_ids == {"INTEL-SA-00837"}
    assert plan.max_quote_age == 900


def test_ipv6_addresses() -> None:
    assert parse_address("[::1]:7400", "x") == Address("::1", 7400)
    assert str(Address("::1", 7400)) == "[::1]:7400"
    assert Address("::1", 1).is_loopback and Address("localhost", 1).is_loopback
    assert not Address("10.0.0.1", 1).is_loopback


@pytest.mark.parametrize(
    ("over", "where", "what"),
    [
        ({"vm": ""}, "plan.vm", "letters"),
        ({"vm": "a/b"}, "plan.vm", "letters"),
        ({"listen": "nohost"}, "plan.listen", "host:port"),
        ({"listen": "1.2.3.4:0"}, "plan.listen", "outside 1..65535"),
        ({"listen": None}, "plan.listen", "attested listener"),
        ({"extra": 1}, "plan", "unknown key"),
        ({"version": 2}, "plan.version", "version 1"),
        ({"peers": {}}, "plan.peers", "list"),
        ({"peers": [{"name": "vm-a", "address": "1.2.3.4:1"}]}, "plan.peers[0].name", "this VM"),
        ({"peers": [{"name": "b", "address": "1.2.3.4:1"}, {"name": "b", "address": "1.2.3.5:1"}]},
         "plan.peers[1].name", "duplicate"),
        ({"peers": [{"name": "b", "address": "1.2.3.4:1",
                     "forward": [{"listen": "0.0.0.0:9903", "target": "t"}]}]},
         "plan.peers[0].forward[0].listen", "loopback"),
        ({"peers": [{"name": "b", "address": "1.2.3.4:1",
                     "forward": [{"listen": "127.0.0.1:9903", "target": "t"},
                                 {"listen": "127.0.0.1:9903", "target": "u"}]}]},
         "plan.peers[0].forward[1].listen", "already used"),
        ({"peers": [{"name": "b", "address": "1.2.3.4:1", "forward": [{"listen": "127.0.0.1:1"}]}]},
         "plan.peers[0].forward[0].target", "letters"),
        ({"targets": {"t": "x"}}, "plan.targets.t", "host:port"),
        ({"policy": {}}, "plan.policy", "exactly one of measurements"),
        ({"policy": {"measurements": []}}, "plan.policy.measurements", "no dcap-tdx"),
        ({"policy": {"measurements": allow_list(), "report_data": "00" * 64}}, "plan.policy",
         "binds report_data"),
        ({"policy": {"measurements": allow_list(), "accepted_tcb_statuses": ["Revoked"]}},
         "plan.policy: accepted_tcb_statuses", "never be accepted"),
        ({"policy": {"measurements": allow_list(), "mr_td": "00"}}, "plan.policy: mr_td",
         "48 bytes"),
        ({"policy": {"measurements": allow_list(), "max_quote_age_seconds": 10}},
         "plan.policy.max_quote_age_seconds", "shorter than reattest"),
        ({"policy": {"measurements_file": "m.json"}}, "m.json", "not allowed"),
        ({"collateral": {}}, "plan.collateral", "exactly one of file"),
        ({"collateral": {"pccs_url": "ftp://x"}}, "plan.collateral.pccs_url", "http"),
        ({"collateral": {"file": "c", "trust_roots": ["ab"]}}, "plan.collateral.trust_roots",
         "fingerprint"),
        ({"reattest_seconds": 0}, "plan.reattest_seconds", ">= 1"),
        ({"probe_seconds": "x"}, "plan.probe_seconds", "number"),
    ],
)  # fmt: skip
def test_errors_name_the_field(over: dict[str, Any], where: str, what: str) -> None:
    with pytest.raises(InputError, match=what) as err:
        parse_plan(doc(**over))
    assert err.value.location == where


def test_missing_sections() -> None:
    d = doc()
    del d["policy"]
    with pytest.raises(InputError, match="allowed measurements") as err:
        parse_plan(d)
    assert err.value.location == "plan.policy"


def test_load_plan_resolves_files_next_to_it(tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text(json.dumps(allow_list(ids=("from-file",))))
    d = doc(policy={"measurements_file": "m.json"},
            collateral={"file": "c.json", "cache_dir": "/abs/cache"})  # fmt: skip
    (tmp_path / "plan.json").write_text(json.dumps(d))
    plan = load_plan(tmp_path / "plan.json")
    assert plan.policy.measurements.entries[0].measurement_id == "from-file"
    assert plan.collateral.file == str(tmp_path / "c.json")
    assert plan.collateral.cache_dir == "/abs/cache"


def test_load_plan_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_plan(tmp_path / "nope.json")
    (tmp_path / "p.json").write_text("{")
    with pytest.raises(InputError, match="not valid JSON"):
        load_plan(tmp_path / "p.json")
    (tmp_path / "p.json").write_text(json.dumps(doc(policy={"measurements_file": "gone.json"})))
    with pytest.raises(InputError, match="not found") as err:
        load_plan(tmp_path / "p.json")
    assert err.value.location == str(tmp_path / "gone.json")
