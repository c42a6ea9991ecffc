"""The appliance's own quote (issue #19 item 3): ``sealfeed attest startup`` against the fake
TDX kernel (configfs-tsm over FUSE, tests/fakes/tsm.py), the exporter's ``GET /attestation``
on a real socket, and ``sealfeed verify --url`` / ``--attestation`` / ``sealfeed secrets seal``
as separate processes. The verifier recomputes every claim of the document: it accepts the
honest appliance and rejects one bound to another configuration, another image, or a
document whose import key is not the quote's."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sealfeed.attest.appliance import load_attestation_bytes
from sealfeed.attest.binding import import_key_commitment
from sealfeed.attest.startup import find_image_digest
from sealfeed.config import signing
from sealfeed.errors import InputError
from sealfeed.exporter.server import Exporter, ServeOptions
from sealfeed.secrets.keys import IMPORT_PUB, ensure_import_key, public_bytes
from sealfeed.secrets.sealed import open_bundle, parse_bundle
from tests.fakes.appliance_image import write_measured_image
from tests.fakes.tsm import DEFAULT_MR_TD, DEFAULT_RTMRS, FakeTdxHost, fuse_available


def sf(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("CONFIGURATION_", "SEALFEED_"))
    }
    return subprocess.run([sys.executable, "-m", "sealfeed", *args], capture_output=True,
                          text=True, timeout=120, env={**base, **(env or {})})  # fmt: skip


@pytest.fixture(scope="module")
def host() -> FakeTdxHost:
    return FakeTdxHost()


class Served:
    """The real exporter route on a real socket (aiohttp in a thread), serving ``path``."""

    def __init__(self, path: Path, tmp: Path) -> None:
        self.exporter = Exporter(ServeOptions(attestation_path=str(path), scandir=str(tmp)))
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.port = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(10)

    def _run(self) -> None:
        from aiohttp import web

        async def main() -> None:
            runner = web.AppRunner(self.exporter._app(), access_log=None)  # type: ignore[arg-type]
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.port = runner.addresses[0][1]
            self.ready.set()
            self.stop = asyncio.Event()
            await self.stop.wait()
            await runner.cleanup()

        self.loop.run_until_complete(main())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(10)


class Appliance:
    """One appliance's public inputs + what its start-up step wrote."""

    def __init__(self, root: Path, host: FakeTdxHost, solution: dict[str, Any]) -> None:
        self.root = root
        self.host = host
        self.image = write_measured_image(root, b"the appliance")
        self.key = signing.generate_key(signing.Scheme.MODERN)
        self.pub = root / "owner.pub"
        self.pub.write_bytes(signing.public_key_pem(self.key.public()))
        self.config = root / "configuration.json"
        self.sign(solution, self.config)
        self.secrets = root / "secrets"
        self.private, _ = ensure_import_key(self.secrets)
        self.doc = root / "run" / "sealfeed" / "attestation.json"
        policy = {"mr_td": [DEFAULT_MR_TD.hex()]}
        policy.update({f"rtmr{i}": [r.hex()] for i, r in enumerate(DEFAULT_RTMRS)})
        (root / "policy.json").write_text(json.dumps(policy))
        host.collateral_file(root / "collateral.json")

    def sign(self, solution: dict[str, Any], path: Path) -> None:
        sol = dict(solution)
        sol[signing.EMBEDDED_SIGNATURE_KEY] = signing.sign_modern(sol, self.key)
        path.write_text(json.dumps({"solution": sol}))

    def startup(self, tsm: Path, **env: str) -> subprocess.CompletedProcess[str]:
        return sf("attest", "startup", "--config", str(self.config), "--pubkey", str(self.pub),
                  "--out", str(self.doc), "--import-key", str(self.secrets / IMPORT_PUB),
                  "--tsm-root", str(tsm), "--json", env=env)  # fmt: skip

    def verify_args(
        self, *, config: Path | None = None, measurement: Path | None = None
    ) -> list[str]:
        return ["--image-measurement", str(measurement or self.root / "measurement.json"),
                "--config", str(config or self.config), "--pubkey", str(self.pub),
                "--policy", str(self.root / "policy.json"),
                "--collateral", str(self.root / "collateral.json"),
                "--root-ca-fingerprint", self.host.root_fingerprint]  # fmt: skip


@pytest.fixture
def appliance(tmp_path: Path, host: FakeTdxHost, solution: dict[str, Any]) -> Iterator[Appliance]:
    solution["priceAggregatorConfig"]["sources"]["finnhub"] = {
        "enabled": True, "apiKey": {"secretFile": "exchanges/finnhub.key"}}  # fmt: skip
    yield Appliance(tmp_path, host, solution)


@pytest.fixture
def tsm(tmp_path: Path, host: FakeTdxHost) -> Iterator[Path]:
    why = fuse_available()
    if why:
        pytest.skip(f"SKIPPED LOUDLY: the fake TDX kernel needs FUSE: {why}")
    mount = host.mount(tmp_path / "tsm")
    try:
        yield mount.root
    finally:
        mount.stop()


def test_quote_served_verified_and_sealed_to(
    appliance: Appliance, tsm: Path, tmp_path: Path
) -> None:
    proc = appliance.startup(tsm, SEALFEED_IMAGE_SHA256=appliance.image)
    assert proc.returncode == 0, proc.stderr
    doc = load_attestation_bytes(appliance.doc.read_bytes(), location="doc")
    assert doc.attested and doc.image_sha256 == appliance.image
    assert doc.image_source == "operator (SEALFEED_IMAGE_SHA256)"
    assert doc.import_key == public_bytes(appliance.private)
    assert doc.report_data is not None and doc.report_data[32:] == import_key_commitment(
        doc.import_key
    )
    assert doc.collateral is not None and doc.collateral.tee == "TDX"
    # the container-log line is the same document (how a Super Protocol operator gets it)
    line = next(x for x in proc.stderr.splitlines() if x.startswith("sealfeed-attestation: "))
    assert (
        json.loads(line.split(": ", 1)[1])["quote"] == base64.b64encode(doc.quote or b"").decode()
    )
    served = Served(appliance.doc, tmp_path)
    try:
        ok = sf("verify", *appliance.verify_args(), "--url", served.url, "--json")
        assert ok.returncode == 0, ok.stdout + ok.stderr
        verdict = json.loads(ok.stdout)
        names = {c["name"]: c["ok"] for c in verdict["checks"]}
        assert names == {"config-signature": True, "image-measurement": True, "quote": True,
                         "policy": True, "td-pinned": True, "report-data-binding": True,
                         "import-key-binding": True}  # fmt: skip
        assert verdict["facts"]["evidence"] == served.url + "/attestation"

        # another configuration, signed by the same owner: the quote does not bind it
        other = json.loads(appliance.config.read_text())["solution"]
        other.pop(signing.EMBEDDED_SIGNATURE_KEY)
        other["chainlinkChainId"] += 1
        appliance.sign(other, tmp_path / "other.json")
        bad = sf(
            "verify", *appliance.verify_args(config=tmp_path / "other.json"), "--url", served.url
        )
        assert bad.returncode == 1, bad.stdout + bad.stderr
        assert bad.stdout.startswith("REJECTED at report-data-binding")
        assert "the appliance bound configuration" in bad.stdout

        # another golden image
        (tmp_path / "img2").mkdir()
        write_measured_image(tmp_path / "img2", b"another appliance")
        bad = sf("verify", *appliance.verify_args(measurement=tmp_path / "img2" / "measurement.json"),
                 "--url", served.url)  # fmt: skip
        assert bad.returncode == 1 and bad.stdout.startswith("REJECTED at report-data-binding")
        assert f"the appliance bound image {appliance.image}" in bad.stdout

        # the operator seals to the key the verified quote commits to
        src = tmp_path / "mine" / "exchanges"
        src.mkdir(parents=True)
        (src / "finnhub.key").write_text("fh-operator-key-1\n")
        out = tmp_path / "ops.sealed.json"
        sealed = sf("secrets", "seal", "--attestation", served.url, *appliance.verify_args(),
                    "--from", str(tmp_path / "mine"), "--out", str(out))  # fmt: skip
        assert sealed.returncode == 0, sealed.stdout + sealed.stderr
        assert "fh-operator-key-1" not in out.read_text() + sealed.stdout + sealed.stderr
        opened = open_bundle(parse_bundle(out.read_bytes(), location="b"), appliance.private,
                             location="b")  # fmt: skip
        assert opened["exchanges/finnhub.key"].reveal() == "fh-operator-key-1"

        # a document whose import key is swapped (a man in the middle's own key)
        tampered = json.loads(appliance.doc.read_text())
        mitm = ensure_import_key(tmp_path / "mitm")[0]
        tampered["binding"]["import_key"] = base64.b64encode(public_bytes(mitm)).decode()
        (tmp_path / "tampered.json").write_text(json.dumps(tampered))
        bad = sf(
            "verify", *appliance.verify_args(), "--attestation", str(tmp_path / "tampered.json")
        )
        assert bad.returncode == 1 and bad.stdout.startswith("REJECTED at import-key-binding")
        refused = sf("secrets", "seal", "--attestation", str(tmp_path / "tampered.json"),
                     *appliance.verify_args(), "--from", str(tmp_path / "mine"),
                     "--out", str(tmp_path / "no.sealed.json"))  # fmt: skip
        assert refused.returncode == 1 and not (tmp_path / "no.sealed.json").exists()
        assert "nothing was sealed" in refused.stderr
    finally:
        served.close()


def test_without_tdx_nothing_is_served_and_verify_says_why(
    appliance: Appliance, tmp_path: Path
) -> None:
    proc = appliance.startup(tmp_path / "no-tsm", SEALFEED_IMAGE_SHA256=appliance.image)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["reason"].startswith("no TDX: configfs-tsm is not available")
    served = Served(appliance.doc, tmp_path)
    try:
        import urllib.error
        import urllib.request

        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(served.url + "/attestation", timeout=10)
        assert err.value.code == 503
        body = json.loads(err.value.read())
        assert body["attested"] is False and body["reason"].startswith("no TDX: ")
        assert body["quote"] is None
        bad = sf("verify", *appliance.verify_args(), "--url", served.url)
        assert bad.returncode == 1
        assert bad.stdout.startswith(
            "REJECTED at evidence: the appliance presents no attestation: no TDX"
        )
    finally:
        served.close()
    unreachable = sf(
        "verify", *appliance.verify_args(), "--url", f"http://127.0.0.1:{_closed_port()}"
    )
    assert unreachable.returncode == 3, unreachable.stderr
    require = sf("attest", "startup", "--config", str(appliance.config), "--pubkey",
                 str(appliance.pub), "--out", str(appliance.doc), "--tsm-root",
                 str(tmp_path / "no-tsm"), "--require")  # fmt: skip
    assert require.returncode == 1
    assert require.stdout.startswith("no TDX: not attested (configfs-tsm is not available at")


def test_the_image_digest_comes_from_the_platform_first(tmp_path: Path) -> None:
    wi = {"workloadInfo": {"created": 1, "runtimeInfo": [
        {"type": "Image", "hash": {"algo": "sha256", "hash": "ab" * 32, "encoding": "hex"}}]}}  # fmt: skip
    report = tmp_path / "order_report.json"
    report.write_text(json.dumps(wi["workloadInfo"]))  # the shape /sp/certs holds
    got = find_image_digest(operator="cd" * 32, order_report=report)
    assert (got.sha256, got.conflict) == ("ab" * 32, "cd" * 32)
    assert got.source == f"workloadInfo {report}"
    report.write_text(json.dumps(wi))  # the shape `spctl orders get-report` saves
    assert find_image_digest(operator=None, order_report=report).sha256 == "ab" * 32
    missing = find_image_digest(operator=None, order_report=tmp_path / "absent.json")
    assert missing.sha256 is None and "image digest unknown" in missing.source
    assert find_image_digest(operator="sha256:" + "EF" * 32, order_report=None).sha256 == "ef" * 32
    with pytest.raises(InputError, match="64 hex digits"):
        find_image_digest(operator="nope", order_report=None)
    report.write_text("{")
    with pytest.raises(InputError, match="not JSON"):
        find_image_digest(operator=None, order_report=report)


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
