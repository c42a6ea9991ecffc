"""A fake Intel PCS / PCCS on 127.0.0.1 speaking the PCS API v4 wire format.

Paths, query parameters and headers follow Intel's "Provisioning Certification Service
API v4" (api.portal.trustedservices.intel.com) and the PCCS that mirrors it:

  GET /sgx/certification/v4/pckcrl?ca=processor|platform[&encoding=der]
      200 DER CRL (hex-less), ``SGX-PCK-CRL-Issuer-Chain: <URL-encoded PEM>``
  GET /{sgx,tdx}/certification/v4/tcb?fmspc=<12 hex>
      200 ``{"tcbInfo":{...},"signature":"<hex>"}``, ``TCB-Info-Issuer-Chain``,
      ``TCB-Evaluation-Data-Number``
  GET /{sgx,tdx}/certification/v4/qe/identity
      200 ``{"enclaveIdentity":{...},"signature":"<hex>"}``,
      ``SGX-Enclave-Identity-Issuer-Chain``
  GET /sgx/certification/v4/rootcacrl
      200 hex text of the DER root CA CRL (PCCS behaviour)

Unknown FMSPC / CA -> 404 as PCS does. Every request is recorded in ``requests``
(path with query). ``fail_with`` makes every response that status.
"""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sealfeed.attest.collateral import Collateral


@dataclass
class FakePcs:
    #: (tee "sgx"/"tdx", FMSPC upper hex) -> collateral (TCB info / QE identity / root CRL)
    by_fmspc: dict[tuple[str, str], Collateral] = field(default_factory=dict)
    #: PCK CA ("platform"/"processor") -> collateral carrying that CA's PCK CRL
    by_ca: dict[str, Collateral] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    fail_with: int | None = None
    #: header name used for the TCB info chain (PCS v4: TCB-Info-Issuer-Chain; some PCCS
    #: and the v3 API send SGX-TCB-Info-Issuer-Chain)
    tcb_chain_header: str = "TCB-Info-Issuer-Chain"
    url: str = ""

    def add(self, tee: str, fmspc: str, ca: str, coll: Collateral) -> None:
        self.by_fmspc[(tee.lower(), fmspc.upper())] = coll
        self.by_ca[ca] = coll

    def respond(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if self.fail_with is not None:
            return self.fail_with, {}, b"fake failure"
        parts = path.strip("/").split("/")
        if (
            len(parts) < 4
            or parts[1:3] != ["certification", "v4"]
            or parts[0] not in ("sgx", "tdx")
        ):
            return 404, {}, b""
        tee, rest = parts[0], "/".join(parts[3:])
        enc = urllib.parse.quote
        any_coll = next(iter(self.by_ca.values()), None)
        if rest == "pckcrl" and tee == "sgx":
            coll = self.by_ca.get(query.get("ca", ""))
            if coll is None:
                return 404, {}, b""
            return (
                200,
                {
                    "SGX-PCK-CRL-Issuer-Chain": enc(coll.pck_crl_issuer_chain),
                    "Content-Type": "application/pkix-crl",
                },
                coll.pck_crl,
            )
        if rest == "tcb":
            coll = self.by_fmspc.get((tee, query.get("fmspc", "").upper()))
            if coll is None:
                return 404, {}, b""
            body = (
                '{"tcbInfo":'
                + coll.tcb_info
                + ',"signature":"'
                + coll.tcb_info_signature.hex()
                + '"}'
            )
            return (
                200,
                {
                    self.tcb_chain_header: enc(coll.tcb_info_issuer_chain),
                    "Content-Type": "application/json",
                    "TCB-Evaluation-Data-Number": "17",
                },
                body.encode(),
            )
        if rest == "qe/identity":
            coll = next((c for (t, _), c in self.by_fmspc.items() if t == tee), None)
            if coll is None:
                return 404, {}, b""
            body = (
                '{"enclaveIdentity":'
                + coll.qe_identity
                + ',"signature":"'
                + coll.qe_identity_signature.hex()
                + '"}'
            )
            return (
                200,
                {
                    "SGX-Enclave-Identity-Issuer-Chain": enc(coll.qe_identity_issuer_chain),
                    "Content-Type": "application/json",
                },
                body.encode(),
            )
        if rest == "rootcacrl" and tee == "sgx" and any_coll is not None:
            return 200, {"Content-Type": "text/plain"}, any_coll.root_ca_crl.hex().encode()
        return 404, {}, b""


def _handler(pcs: FakePcs) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            u = urllib.parse.urlsplit(self.path)
            pcs.requests.append(self.path)
            q = dict(urllib.parse.parse_qsl(u.query))
            status, headers, body = pcs.respond(u.path, q)
            self.send_response(status)
            headers = {"Request-ID": f"fake-{len(pcs.requests)}", **headers}
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    return Handler


@contextmanager
def serve_fake_pcs(pcs: FakePcs | None = None) -> Iterator[FakePcs]:
    """Run ``pcs`` on 127.0.0.1 (ephemeral port) in a thread; sets ``pcs.url``."""
    pcs = pcs or FakePcs()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(pcs))
    pcs.url = f"http://127.0.0.1:{server.server_address[1]}"
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    t.start()
    try:
        yield pcs
    finally:
        server.shutdown()
        server.server_close()
        t.join(timeout=5)


__all__ = ["FakePcs", "serve_fake_pcs"]
