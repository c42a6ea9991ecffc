"""Each VM's link plan derived from the placement (pure): the port scheme of docs/link.md
"Ports", the allow-list and policy from ``sealfeed.link``, refusals that name the key."""

from __future__ import annotations

from typing import Any

import pytest

from sealfeed.attest.collateral import INTEL_PCS_URL
from sealfeed.attest.trust import INTEL_SGX_ROOT_CA_SHA256
from sealfeed.config.placement import local_view
from sealfeed.errors import InputError
from sealfeed.link.placement import NODE_KEYS, derive_plan, p2p_target
from sealfeed.link.plan import Address, parse_plan, plan_summary
from tests.multivm.solution import multi_vm_solution, parse

FIVE = (("vm-a", (1, 2), "10.9.0.2:7400"), ("vm-b", (3,), "10.9.0.3:7400"),
        ("vm-c", (4, 5), "[fd00::4]:7400"))  # fmt: skip


def plan_of(vm: str, sol: dict[str, Any] | None = None, **kw: Any) -> Any:
    return derive_plan(local_view(parse(sol or multi_vm_solution(FIVE)), vm), **kw)


def test_every_vm_reaches_every_node_at_the_same_address() -> None:
    plans = {vm: plan_of(vm, run_dir="/run/sealfeed/link") for vm in ("vm-a", "vm-b", "vm-c")}
    for vm, plan in plans.items():
        # node N is at 127.0.0.1:9900+N on every VM: its own target, or a tunnel endpoint
        here = {t: a for t, a in plan.targets.items()}
        there = {f.target: f.listen for p in plan.peers for f in p.forwards}
        assert set(here) | set(there) == {p2p_target(n) for n in range(1, 6)}, vm
        assert not set(here) & set(there)
        for name, addr in {**here, **there}.items():
            assert addr == Address("127.0.0.1", 9900 + int(name.split("-")[1])), (vm, name)
    b = plans["vm-b"]
    assert b.vm == "vm-b" and b.listen == Address("10.9.0.3", 7400)
    assert [(p.name, str(p.address)) for p in b.peers] == [
        ("vm-a", "10.9.0.2:7400"), ("vm-c", "[fd00::4]:7400")]  # fmt: skip
    assert [f.target for f in b.peers[1].forwards] == ["node-4-p2p", "node-5-p2p"]
    assert b.targets == {"node-3-p2p": Address("127.0.0.1", 9903)}
    # what it serves and fetches: its nodes' public keys, the peers'
    assert b.documents == {NODE_KEYS: "/run/sealfeed/link/public/node-keys.json"}
    assert b.fetch == (NODE_KEYS,) and b.peers_dir == "/run/sealfeed/link/peers"


def test_policy_and_collateral_come_from_the_signed_configuration() -> None:
    b = plan_of("vm-b", run_dir="/r")
    assert [e.measurement_id for e in b.policy.measurements.tdx_entries] == ["sealfeed-test"]
    assert b.policy.attest.accepted_tcb_statuses == frozenset({"UpToDate"})
    assert b.policy.attest.dangerous_allow_debug is False  # never from the configuration
    assert b.collateral.pccs_url == INTEL_PCS_URL and b.collateral.cache_dir == "/r/pccs"
    assert b.collateral.trust_roots == (INTEL_SGX_ROOT_CA_SHA256,)
    assert (b.reattest_seconds, b.probe_seconds, b.max_quote_age) == (300, 30, 660)
    sol = multi_vm_solution(FIVE, link={
        "acceptedTcbStatuses": ["UpToDate", "SWHardeningNeeded"], "reattestSeconds": 5,
        "probeSeconds": 0.5, "maxQuoteAgeSeconds": 40,
        "collateral": {"file": "/sp/collateral.json", "rootCaFingerprints": ["AB" * 32]}})  # fmt: skip
    b = plan_of("vm-b", sol, run_dir="/r")
    assert b.policy.attest.accepted_tcb_statuses == {"UpToDate", "SWHardeningNeeded"}
    assert (b.reattest_seconds, b.probe_seconds, b.max_quote_age) == (5, 0.5, 40)
    assert b.collateral.file == "/sp/collateral.json" and b.collateral.pccs_url is None
    assert b.collateral.trust_roots == ("ab" * 32,)
    summary = plan_summary(b)
    assert summary["documents"] == [NODE_KEYS] and summary["measurements"] == ["sealfeed-test"]


@pytest.mark.parametrize(
    ("link", "location", "message"),
    [
        ({"acceptedTcbStatuses": ["Fine"]}, "sealfeed.link.acceptedTcbStatuses", "unknown status"),
        ({"collateral": {"rootCaFingerprints": ["zz"]}},
         "sealfeed.link.collateral.rootCaFingerprints", ""),
        ({"measurements": [{"measurement_id": "m", "measurements": {"7": {"expected": "ab" * 48}}}]},
         "sealfeed.link.measurements[0].measurements", "is not 0 (MRTD) .. 4"),
        ({"reattestSeconds": 100, "maxQuoteAgeSeconds": 50},
         "sealfeed.link.policy.max_quote_age_seconds", "shorter than reattest"),
    ],
    ids=["tcb-status", "fingerprint", "register-index", "quote-age"],
)  # fmt: skip
def test_a_plan_that_cannot_derive_names_the_key(
    link: dict[str, Any], location: str, message: str
) -> None:
    with pytest.raises(InputError) as exc:
        plan_of("vm-a", multi_vm_solution(FIVE, link=link))
    assert exc.value.location == location and message in exc.value.message


def test_the_listener_cannot_take_a_nodes_p2p_address() -> None:
    vms = (("vm-a", (1,), "127.0.0.1:9902"), ("vm-b", (2,), "127.0.0.3:7400"))
    with pytest.raises(InputError, match="is node 2's P2P address on every VM") as exc:
        plan_of("vm-a", multi_vm_solution(vms))
    assert exc.value.location == "sealfeed.placement[0].address"


def test_listen_overrides_the_bind_address() -> None:
    sol = multi_vm_solution(FIVE)
    sol["sealfeed"]["placement"][2]["listen"] = "0.0.0.0:7400"
    c = plan_of("vm-c", sol)
    assert c.listen == Address("0.0.0.0", 7400)
    assert plan_of("vm-a", sol).peers[1].address == Address("fd00::4", 7400)  # dial: address


def test_only_a_named_vm_of_several_derives_a_plan() -> None:
    with pytest.raises(InputError, match="name is not known"):
        derive_plan(parse(multi_vm_solution(FIVE)))
    one = multi_vm_solution((("solo", (1, 2, 3), "10.9.0.2:7400"),))
    with pytest.raises(InputError, match="several VMs"):
        derive_plan(local_view(parse(one), "solo"))


def test_plan_files_take_documents_too(tmp_path: Any) -> None:
    from tests.fakes.tsm import FakeTdxHost
    from tests.link.conftest import plan_doc

    doc = plan_doc("vm-a", host=FakeTdxHost(), collateral=tmp_path / "c.json",
                   listen="127.0.0.2:7400", documents={"node-keys": "/x/keys.json"},
                   fetch=["node-keys"], peers_dir="/x/peers")  # fmt: skip
    plan = parse_plan(doc)
    assert plan.documents == {"node-keys": "/x/keys.json"} and plan.fetch == ("node-keys",)
    doc["targets"] = {"node-keys": "127.0.0.1:1"}
    with pytest.raises(InputError, match="both a target and a document"):
        parse_plan(doc)
    doc["targets"], doc["peers_dir"] = {}, None
    with pytest.raises(InputError, match="fetch needs peers_dir"):
        parse_plan(doc)


def test_link_plan_prints_what_a_vm_will_open_dial_and_admit(
    tmp_path: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from sealfeed.cli import main
    from sealfeed.config import signing

    monkeypatch.delenv("SEALFEED_VM", raising=False)
    key = signing.generate_key(signing.Scheme.REFERENCE)
    sol = multi_vm_solution(FIVE)
    sol["signature"] = signing.sign_reference(sol, key)
    (tmp_path / "c.json").write_text(json.dumps({"solution": sol}))
    (tmp_path / "k.pub").write_bytes(signing.public_key_pem(key.public()))
    base = ["link", "plan", "--config", str(tmp_path / "c.json"), "--pubkey",
            str(tmp_path / "k.pub")]  # fmt: skip
    assert main([*base, "--vm", "vm-b"]) == 0
    out = capsys.readouterr().out
    assert "peer vm-c at [fd00::4]:7400: 127.0.0.1:9904 -> node-4-p2p, 127.0.0.1:9905" in out
    assert "serves node-3-p2p -> 127.0.0.1:9903" in out
    assert "publishes node-keys to verified peers" in out and "admits sealfeed-test" in out
    monkeypatch.setenv("SEALFEED_VM", "vm-a")
    assert main([*base, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["vm"] == "vm-a"
    monkeypatch.delenv("SEALFEED_VM")
    assert main(base) == 2
    assert "--vm: this configuration places the DON on several VMs" in capsys.readouterr().err
    # serve refuses the same way before touching the TDX module
    assert main(["link", "serve", *base[2:], "--tsm-root", str(tmp_path / "none")]) == 2
