"""Publishing against fake node APIs on 127.0.0.1: idempotence, replace/extra/prune, retries,
CSRF, and validation before any request."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from sealfeed.chainlink import client as client_mod
from sealfeed.chainlink.client import NodeApiError, NodeClient, RetryPolicy
from sealfeed.chainlink.keys import NodePublicKeys
from sealfeed.chainlink.publish import PublishReport, plan_node, publish
from sealfeed.config.model import ApplianceConfig, NodeSpec
from sealfeed.errors import InputError
from sealfeed.secret import Secret
from tests.chainlink.conftest import API_PASSWORD, FEEDS, MIXED_FEEDS, make_config, make_keys
from tests.fakes.chainlink_node import FakeChainlinkNode

FAST_RETRY = RetryPolicy(initial_s=0.01, factor=2.0, max_s=0.05, deadline_s=5.0)


class Fleet:
    def __init__(
        self, cfg: ApplianceConfig, retry: RetryPolicy = FAST_RETRY, **fake_kwargs: object
    ) -> None:
        self.cfg = cfg
        self.retry = retry
        self.nodes = {
            n.index: FakeChainlinkNode(cfg.chainlink.email, API_PASSWORD, **fake_kwargs)  # type: ignore[arg-type]
            for n in cfg.nodes.specs()
        }
        for fake in self.nodes.values():
            fake.start()
        self.clients: dict[int, NodeClient] = {}
        self.sleeps: list[float] = []

    def client_for(self, node: NodeSpec) -> NodeClient:
        c = NodeClient(
            self.nodes[node.index].url,
            self.cfg.chainlink.email,
            self.cfg.chainlink.password,
            label=f"node-{node.index}",
            retry=self.retry,
            sleep=self.sleeps.append,
        )
        self.clients[node.index] = c
        return c

    def mutations(self) -> int:
        return sum(len(f.mutations()) for f in self.nodes.values())

    def requests(self) -> int:
        return sum(len(f.requests) for f in self.nodes.values())

    def stop(self) -> None:
        for f in self.nodes.values():
            f.stop()


@pytest.fixture
def fleet(cl_config: ApplianceConfig, cl_keys: dict[int, NodePublicKeys]) -> Iterator[Fleet]:
    f = Fleet(cl_config)
    yield f
    f.stop()


def _actions(report: PublishReport, kind: str = "job") -> dict[str, int]:
    out: dict[str, int] = {}
    for r in report.rows:
        if r.kind == kind:
            out[r.action] = out.get(r.action, 0) + 1
    return out


def test_publish_twice_is_a_noop(fleet: Fleet, cl_keys: dict[int, NodePublicKeys]) -> None:
    first = publish(fleet.cfg, fleet.client_for)
    assert not first.failed_nodes
    assert _actions(first) == {"create": 10}  # 2 bootstrap jobs + 4 oracles x 2 feeds
    assert _actions(first, "key") == {"import": 1 + 4 * 3, "delete": 5}
    # the P2P key each node auto-created is replaced by ours: those nodes must restart
    assert first.restart_required == [1, 2, 3, 4, 5]
    node1, node2 = fleet.nodes[1], fleet.nodes[2]
    assert {j.type for j in node1.jobs.values()} == {"bootstrap"}
    assert {j.type for j in node2.jobs.values()} == {"offchainreporting2"}
    assert set(node2.p2p_keys) == {cl_keys[2].peer_id}
    assert set(node2.evm_keys) == {cl_keys[2].evm_address}
    assert set(node2.ocr2_keys) == {cl_keys[2].ocr2_bundle_id}
    assert node1.evm_keys == {} and node1.ocr2_keys == {}
    before = fleet.mutations()
    second = publish(fleet.cfg, fleet.client_for)
    assert fleet.mutations() == before, "second publish changed something"
    assert not second.changed and second.restart_required == []
    assert _actions(second) == {"keep": 10}
    assert "summary: keep 23" in second.table()


def test_changed_job_replaced_extra_reported_then_pruned(fleet: Fleet) -> None:
    publish(fleet.cfg, fleet.client_for)
    node3 = fleet.nodes[3]
    node3.jobs[999] = type(next(iter(node3.jobs.values())))(
        999, "someone else's job", "webhook", "0b5e1a5e-0000-4000-8000-000000000000", "", {}
    )
    changed_feeds = (replace(FEEDS[0], decimals=6), FEEDS[1])
    cfg = replace(fleet.cfg, chainlink=replace(fleet.cfg.chainlink, feeds=changed_feeds))
    fleet.cfg = cfg
    report = publish(cfg, fleet.client_for)
    acts = _actions(report)
    # the bootstrap job does not depend on decimals: kept
    assert acts == {"replace": 4, "keep": 6, "extra": 1}
    assert 999 in node3.jobs
    btc = [j for j in node3.jobs.values() if j.name == "sealfeed BTC/USD"]
    assert len(btc) == 1 and "times=1000000]" in btc[0].toml
    pruned = publish(cfg, fleet.client_for, prune=True)
    assert _actions(pruned) == {"keep": 10, "delete": 1}
    assert 999 not in node3.jobs


def test_starting_node_5xx_is_retried(
    cl_config: ApplianceConfig, cl_keys: dict[int, NodePublicKeys]
) -> None:
    fleet = Fleet(cl_config, fail_first=3)
    try:
        report = publish(cl_config, fleet.client_for)
    finally:
        fleet.stop()
    assert not report.failed_nodes
    assert all(c.retries == 3 for c in fleet.clients.values())
    # exponential backoff: 0.01, 0.02, 0.04 per node
    assert fleet.sleeps[:3] == [0.01, 0.02, 0.04]


def test_node_not_listening_yet(
    cl_config: ApplianceConfig, cl_keys: dict[int, NodePublicKeys]
) -> None:
    """Connection refused while the node boots, then it comes up on its port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    fake = FakeChainlinkNode(cl_config.chainlink.email, API_PASSWORD)
    timer = threading.Timer(0.3, fake.start, kwargs={"port": port})
    timer.start()
    try:
        client = NodeClient(
            f"http://127.0.0.1:{port}",
            cl_config.chainlink.email,
            cl_config.chainlink.password,
            label="node-2",
            retry=RetryPolicy(initial_s=0.05, max_s=0.1, deadline_s=10.0),
        )
        client.login()
        assert client.list_jobs() == []
        assert client.retries >= 1
    finally:
        timer.join()
        fake.stop()


def test_node_that_never_comes_up_fails_alone(
    cl_config: ApplianceConfig, cl_keys: dict[int, NodePublicKeys]
) -> None:
    fleet = Fleet(cl_config, retry=replace(FAST_RETRY, deadline_s=0.5))
    fleet.nodes[4].fail_first = 10_000
    try:
        report = publish(cl_config, fleet.client_for)
    finally:
        fleet.stop()
    assert report.failed_nodes == [4]
    failed = [r for r in report.rows if r.action == "failed"]
    assert len(failed) == 1 and "not ready after 0.5s" in failed[0].detail
    assert len(fleet.nodes[5].jobs) == 2  # the others were published


def test_malformed_feed_fails_before_any_call(
    cl_config: ApplianceConfig, cl_keys: dict[int, NodePublicKeys]
) -> None:
    bad = (FEEDS[0], replace(FEEDS[1], contract_address="0xnot-an-address"))
    cfg = replace(cl_config, chainlink=replace(cl_config.chainlink, feeds=bad))
    fleet = Fleet(cfg)
    try:
        with pytest.raises(InputError) as exc:
            publish(cfg, fleet.client_for)
        assert exc.value.location == "chainlink.feeds[1].contract_address"
        assert fleet.requests() == 0
    finally:
        fleet.stop()


def test_missing_keys_fail_before_any_call(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    fleet = Fleet(cfg)
    try:
        with pytest.raises(InputError, match="key file does not exist"):
            publish(cfg, fleet.client_for)
        assert fleet.requests() == 0
    finally:
        fleet.stop()


@pytest.mark.parametrize("csrf", [True, False])
def test_csrf_modes(
    cl_config: ApplianceConfig, cl_keys: dict[int, NodePublicKeys], csrf: bool
) -> None:
    fleet = Fleet(cl_config, csrf=csrf)
    try:
        report = publish(cl_config, fleet.client_for, only_nodes=[2])
    finally:
        fleet.stop()
    assert not report.failed_nodes and _actions(report) == {"create": 2}


def test_missing_csrf_token_is_rejected(
    cl_config: ApplianceConfig, cl_keys: dict[int, NodePublicKeys]
) -> None:
    fake = FakeChainlinkNode(cl_config.chainlink.email, API_PASSWORD)
    fake.start()
    try:
        client = NodeClient(
            fake.url, cl_config.chainlink.email, cl_config.chainlink.password, label="n"
        )
        client.login()
        client._csrf = None  # simulate a client that ignores CSRF
        with pytest.raises(NodeApiError, match="invalid CSRF token") as exc:
            client.create_job('type = "bootstrap"')
        assert exc.value.status == 403
    finally:
        fake.stop()


def test_bad_credentials_error_detail(
    cl_config: ApplianceConfig, cl_keys: dict[int, NodePublicKeys]
) -> None:
    cfg = replace(
        cl_config, chainlink=replace(cl_config.chainlink, password=Secret("wrong-password-0000000"))
    )
    fleet = Fleet(cfg)
    try:
        report = publish(cfg, fleet.client_for, only_nodes=[1])
    finally:
        fleet.stop()
    assert report.failed_nodes == [1]
    assert "HTTP 401: Invalid email or password" in report.rows[-1].detail
    assert "wrong-password" not in report.table()


def test_job_list_pagination(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_mod, "JOBS_PAGE_SIZE", 1)
    publish(fleet.cfg, fleet.client_for)
    again = publish(fleet.cfg, fleet.client_for)
    assert _actions(again) == {"keep": 10}
    pages = [p for m, p in fleet.nodes[2].requests if (m, p) == ("GET", "/v2/jobs")]
    assert len(pages) == 1 + 2  # run 1: empty list; run 2: two jobs, one per page


def test_plan_is_pure(tmp_path: Path) -> None:
    from sealfeed.chainlink.client import RemoteJob
    from sealfeed.chainlink.jobs import JobSpec

    spec = JobSpec(2, "sealfeed X", "offchainreporting2", "AAAA", "toml", "X")
    same = RemoteJob("1", "sealfeed X", "offchainreporting2", "aaaa")
    dup = RemoteJob("2", "sealfeed X", "offchainreporting2", "bbbb")
    plan = plan_node([spec], [same, dup], prune=False)
    assert [(p.action, p.existing.id if p.existing else None) for p in plan] == [
        ("keep", "1"),
        ("extra", "2"),
    ]
    plan = plan_node([spec], [dup], prune=True)
    assert [p.action for p in plan] == ["replace"]
    assert make_keys  # imported for other tests


def test_no_secret_in_logs_or_report(
    cl_config: ApplianceConfig, cl_keys: dict[int, NodePublicKeys], caplog: pytest.LogCaptureFixture
) -> None:
    fleet = Fleet(cl_config, fail_first=2)
    fleet.nodes[5].fail_first = 10_000
    fleet.retry = replace(FAST_RETRY, deadline_s=0.2)
    try:
        with caplog.at_level("DEBUG"):
            report = publish(cl_config, fleet.client_for)
    finally:
        fleet.stop()
    text = caplog.text + report.table() + str(report.to_dict())
    assert "chainlink_api_retry" in str([r.__dict__ for r in caplog.records])
    for secret in (cl_config.chainlink.keystore_password, cl_config.chainlink.password):
        assert secret.reveal() not in text
    assert "oldpassword" not in text


def test_ocr1_feeds_publish_ocr1_keys_and_jobs(tmp_path: Path) -> None:
    """Issue #18 item 3: an operator moving from the reference keeps its OCR1 contracts."""
    cfg = make_config(tmp_path, feeds=MIXED_FEEDS)
    keys = make_keys(cfg)
    fleet = Fleet(cfg)
    try:
        first = publish(cfg, fleet.client_for)
        assert not first.failed_nodes
        assert _actions(first) == {"create": 10}
        # oracles: p2p + evm + ocr2 + ocr (OCR1) each; the bootstrap node: p2p only
        assert _actions(first, "key") == {"import": 1 + 4 * 4, "delete": 5}
        node1, node2 = fleet.nodes[1], fleet.nodes[2]
        assert sorted(j.type for j in node1.jobs.values()) == ["bootstrap", "offchainreporting"]
        assert sorted(j.type for j in node2.jobs.values()) == [
            "offchainreporting",
            "offchainreporting2",
        ]
        assert set(node2.ocr_keys) == {keys[2].ocr1_bundle_id}
        assert node1.ocr_keys == {}
        (ocr1,) = [j for j in node2.jobs.values() if j.type == "offchainreporting"]
        assert ocr1.spec["keyBundleID"] == keys[2].ocr1_bundle_id
        assert ocr1.spec["transmitterAddress"] == keys[2].evm_address
        assert node2.ocr_keys[str(keys[2].ocr1_bundle_id)]["onChainSigningAddress"] == (
            "ocrsad_" + str(keys[2].ocr1_onchain_signing_address)
        )
        before = fleet.mutations()
        second = publish(cfg, fleet.client_for)
        assert fleet.mutations() == before and _actions(second) == {"keep": 10}
        # moving the other feed to OCR1 too: its jobs are replaced (same names)
        cfg2 = replace(
            cfg,
            chainlink=replace(
                cfg.chainlink, feeds=tuple(replace(f, ocr_version=1) for f in MIXED_FEEDS)
            ),
        )
        fleet.cfg = cfg2
        third = publish(cfg2, fleet.client_for)
        assert _actions(third) == {"replace": 5, "keep": 5}
        assert {j.type for j in node2.jobs.values()} == {"offchainreporting"}
    finally:
        fleet.stop()


def test_ocr1_without_ocr1_keys_fails_before_any_request(tmp_path: Path) -> None:
    plain = make_config(tmp_path)
    make_keys(plain)  # evm/p2p/ocr2 only
    cfg = replace(plain, chainlink=replace(plain.chainlink, feeds=MIXED_FEEDS))
    fleet = Fleet(cfg)
    try:
        with pytest.raises(InputError, match="run 'sealfeed chainlink keys'"):
            publish(cfg, fleet.client_for)
        assert fleet.requests() == 0
    finally:
        fleet.stop()


def test_node_with_ocr_disabled_reports_501(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, feeds=MIXED_FEEDS)
    make_keys(cfg)
    fleet = Fleet(cfg, ocr_enabled=False)
    try:
        report = publish(cfg, fleet.client_for)
        assert report.failed_nodes == [1, 2, 3, 4, 5]
        assert "HTTP 501: The Offchain Reporting feature is disabled" in report.table()
        assert fleet.sleeps == []  # a disabled feature is final, not a node still starting
    finally:
        fleet.stop()
