"""A fake Chainlink node operator API on 127.0.0.1 (real HTTP over a real socket).

Written from the node's public API behaviour (the operator UI / ``chainlink admin`` client):

* ``POST /sessions`` ``{"email","password"}`` -> 200 + ``Set-Cookie: clsession=...``;
  wrong credentials -> 401. Every ``/v2`` route needs the session cookie (401 otherwise).
* ``GET /v2/csrf`` -> token in ``X-CSRF-Token`` (and ``data.csrfToken``) when CSRF is on;
  then every POST/DELETE must echo it (403 otherwise). With CSRF off the route is a 404.
* JSON:API bodies ``{"data": ...}``, errors ``{"errors": [{"detail": "..."}]}``.
* ``/v2/jobs``: paginated list (``page``/``size``, ``meta.count``), create from
  ``{"toml": ...}`` (validated: job type, required fields, the key bundle and transmitter must
  exist on the node, duplicate names/externalJobIDs conflict, one OCR1 job per contract
  address; a job type whose feature is off in the node's config -> 501 like
  jobs_controller.go), ``DELETE /v2/jobs/<id>`` -> 204.
* ``/v2/keys/{evm,p2p,ocr2,ocr}``: list and ``POST .../import?oldpassword=`` with the export
  JSON; the fake really decrypts (with eth-keyfile, independent of sealfeed) and derives the
  ids (OCR1: ``sha256`` of the decrypted ``keyBundleRawData`` JSON, parsed like Go does).
* ``fail_first=N``: the first N requests get 503, like a node whose API is still starting.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import secrets
import threading
import tomllib
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import eth_keyfile
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_account import Account

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _b58(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    s = ""
    while n:
        n, r = divmod(n, 58)
        s = _B58[r] + s
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + s


@dataclass
class FakeJob:
    id: int
    name: str
    type: str
    external_job_id: str
    toml: str
    spec: dict[str, Any]


class ApiError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass
class FakeChainlinkNode:
    email: str
    password: str
    csrf: bool = True
    fail_first: int = 0
    fail_status: int = 503
    jobs: dict[int, FakeJob] = field(default_factory=dict)
    evm_keys: dict[str, str] = field(default_factory=dict)  # checksum address -> chain id
    p2p_keys: dict[str, str] = field(default_factory=dict)  # peer id -> public key hex
    ocr2_keys: dict[str, dict[str, str]] = field(default_factory=dict)
    ocr_keys: dict[str, dict[str, str]] = field(default_factory=dict)
    #: the node's [OCR] / [OCR2] Enabled (jobs of a disabled kind get 501)
    ocr_enabled: bool = True
    ocr2_enabled: bool = True
    requests: list[tuple[str, str]] = field(default_factory=list)
    sessions: set[str] = field(default_factory=set)
    csrf_token: str = field(default_factory=lambda: secrets.token_hex(16))
    #: like a real node's first boot (P2P EnsureKey): one random P2P key already exists
    auto_p2p_key: bool = True
    _next_id: int = 1
    _server: http.server.ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- lifecycle ---------------------------------------------------------------------

    def __post_init__(self) -> None:
        if self.auto_p2p_key:
            pub = (
                ed25519.Ed25519PrivateKey.generate()
                .public_key()
                .public_bytes(Encoding.Raw, PublicFormat.Raw)
            )
            self.p2p_keys[_b58(bytes([0x00, 0x24, 0x08, 0x01, 0x12, 0x20]) + pub)] = pub.hex()

    def start(self, port: int = 0) -> str:
        node = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, doc = node.dispatch(method, self.path, self.headers, body)
                raw = json.dumps(doc).encode() if doc is not None else b""
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                if raw:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                if raw:
                    self.wfile.write(raw)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_DELETE(self) -> None:
                self._handle("DELETE")

            def do_PATCH(self) -> None:
                self._handle("PATCH")

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self.url

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # --- request handling ----------------------------------------------------------------

    def mutations(self) -> list[tuple[str, str]]:
        return [
            (m, p)
            for m, p in self.requests
            if m in ("POST", "DELETE", "PATCH") and not p.startswith("/sessions")
        ]

    def dispatch(
        self, method: str, target: str, headers: Any, body: bytes
    ) -> tuple[int, list[tuple[str, str]], Any]:
        parts = urlsplit(target)
        path, query = parts.path, parse_qs(parts.query)
        with self._lock:
            self.requests.append((method, path))
            if self.fail_first > 0:
                self.fail_first -= 1
                return self.fail_status, [], {"errors": [{"detail": "node is starting"}]}
            try:
                return self._route(method, path, query, headers, body)
            except ApiError as err:
                return err.status, [], {"errors": [{"detail": err.detail}]}
            except Exception as exc:  # a bug in the fake must not look like a network fault
                return 500, [], {"errors": [{"detail": f"fake node bug: {exc!r}"}]}

    def _route(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: Any,  # case-insensitive (email.message.Message), as HTTP headers are
        body: bytes,
    ) -> tuple[int, list[tuple[str, str]], Any]:
        if path == "/sessions" and method == "POST":
            creds = self._json(body)
            if creds.get("email") != self.email or creds.get("password") != self.password:
                raise ApiError(401, "Invalid email or password")
            token = secrets.token_hex(16)
            self.sessions.add(token)
            cookie = f"clsession={token}; Path=/; HttpOnly; SameSite=Strict"
            return (
                200,
                [("Set-Cookie", cookie)],
                {
                    "data": {
                        "type": "session",
                        "id": "sessionID",
                        "attributes": {"authenticated": True},
                    }
                },
            )
        if not path.startswith("/v2/"):
            raise ApiError(404, "not found")
        cookie = {
            k.strip(): v
            for k, _, v in (c.partition("=") for c in headers.get("Cookie", "").split(";"))
        }
        if cookie.get("clsession") not in self.sessions:
            raise ApiError(401, "Unauthorized")
        if path == "/v2/csrf" and method == "GET":
            if not self.csrf:
                raise ApiError(404, "not found")
            return (
                200,
                [("X-CSRF-Token", self.csrf_token)],
                {"data": {"type": "csrf", "id": "csrf", "csrfToken": self.csrf_token}},
            )
        if method != "GET" and self.csrf and headers.get("X-CSRF-Token") != self.csrf_token:
            raise ApiError(403, "invalid CSRF token")
        if path == "/v2/jobs":
            if method == "GET":
                return 200, [], self._list_jobs(query)
            if method == "POST":
                return 200, [], {"data": self._job_resource(self._create_job(self._json(body)))}
        if path.startswith("/v2/jobs/") and method == "DELETE":
            try:
                job_id = int(path.rsplit("/", 1)[1])
            except ValueError:
                raise ApiError(422, "invalid job id") from None
            if job_id not in self.jobs:
                raise ApiError(404, "JobSpec not found")
            del self.jobs[job_id]
            return 204, [], None
        if path.startswith("/v2/keys/p2p/") and method == "DELETE":
            peer = path.rsplit("/", 1)[1].removeprefix("p2p_")
            if peer not in self.p2p_keys:
                raise ApiError(404, f"P2P key {peer} not found")
            del self.p2p_keys[peer]
            return 200, [], {"data": {"type": "encryptedP2PKeys", "id": peer}}
        for kind in ("evm", "p2p", "ocr2", "ocr"):
            if path == f"/v2/keys/{kind}" and method == "GET":
                return 200, [], {"data": self._keys(kind)}
            if path == f"/v2/keys/{kind}/import" and method == "POST":
                old = (query.get("oldpassword") or [""])[0]
                return 200, [], {"data": self._import(kind, body, old, query)}
        raise ApiError(404, "not found")

    @staticmethod
    def _json(body: bytes) -> dict[str, Any]:
        try:
            doc = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ApiError(400, "invalid JSON body") from None
        if not isinstance(doc, dict):
            raise ApiError(400, "JSON body must be an object")
        return doc

    # --- jobs ----------------------------------------------------------------------------

    def _job_resource(self, job: FakeJob) -> dict[str, Any]:
        attrs: dict[str, Any] = {
            "name": job.name,
            "type": job.type,
            "schemaVersion": 1,
            "externalJobID": job.external_job_id,
        }
        if job.type == "bootstrap":
            attrs["bootstrapSpec"] = {"contractID": job.spec["contractID"]}
        elif job.type == "offchainreporting":
            attrs["offChainReportingOracleSpec"] = {
                "contractAddress": job.spec["contractAddress"],
                "isBootstrapPeer": job.spec["isBootstrapPeer"],
                "keyBundleID": job.spec.get("keyBundleID"),
                "transmitterAddress": job.spec.get("transmitterAddress"),
                "evmChainID": job.spec["evmChainID"],
            }
            if "observationSource" in job.spec:
                attrs["pipelineSpec"] = {"dotDagSource": job.spec["observationSource"]}
        elif job.type == "offchainreporting2":
            attrs["offChainReporting2OracleSpec"] = {
                "contractID": job.spec["contractID"],
                "ocrKeyBundleID": job.spec["ocrKeyBundleID"],
                "transmitterID": job.spec["transmitterID"],
                "pluginType": job.spec["pluginType"],
            }
            attrs["pipelineSpec"] = {"dotDagSource": job.spec["observationSource"]}
        return {"type": "jobs", "id": str(job.id), "attributes": attrs}

    def _list_jobs(self, query: dict[str, list[str]]) -> dict[str, Any]:
        size = int((query.get("size") or ["10"])[0])
        page = int((query.get("page") or ["1"])[0])
        ordered = sorted(self.jobs.values(), key=lambda j: j.id)
        chunk = ordered[(page - 1) * size : page * size]
        return {
            "data": [self._job_resource(j) for j in chunk],
            "meta": {"count": len(ordered)},
        }

    def _create_job(self, doc: dict[str, Any]) -> FakeJob:
        text = doc.get("toml")
        if not isinstance(text, str):
            raise ApiError(400, "toml is required")
        try:
            spec = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ApiError(400, f"failed to parse TOML: {exc}") from None
        jtype = spec.get("type")
        if jtype not in ("bootstrap", "offchainreporting2", "offchainreporting"):
            raise ApiError(422, f"unsupported job type {jtype!r}")
        if jtype == "offchainreporting":
            if not self.ocr_enabled:
                raise ApiError(501, "The Offchain Reporting feature is disabled by configuration")
            self._check_ocr1(spec)
        elif not self.ocr2_enabled:
            raise ApiError(501, "The Offchain Reporting 2 feature is disabled by configuration")
        required = ["schemaVersion", "contractID", "relay", "relayConfig"]
        if jtype == "offchainreporting2":
            required += ["pluginType", "ocrKeyBundleID", "transmitterID", "observationSource"]
        for key in required if jtype != "offchainreporting" else ():
            if key not in spec:
                raise ApiError(400, f"{key} is required")
        if jtype != "offchainreporting" and "chainID" not in spec["relayConfig"]:
            raise ApiError(400, "relayConfig.chainID is required")
        if jtype == "offchainreporting2":
            if spec["ocrKeyBundleID"] not in self.ocr2_keys:
                raise ApiError(400, f"no key bundle with id: {spec['ocrKeyBundleID']}")
            if spec["transmitterID"] not in self.evm_keys:
                raise ApiError(400, f"no EVM key matching: {spec['transmitterID']}")
            if "juelsPerFeeCoinSource" not in spec.get("pluginConfig", {}):
                raise ApiError(400, "juelsPerFeeCoinSource is required")
            for b in spec.get("p2pv2Bootstrappers", []):
                peer, _, addr = b.partition("@")
                if not peer.startswith("12D3KooW") or ":" not in addr:
                    raise ApiError(400, f"invalid bootstrapper {b!r}")
        ext = str(spec.get("externalJobID") or uuid.uuid4())
        name = str(spec.get("name") or "")
        for other in self.jobs.values():
            if other.external_job_id == ext:
                raise ApiError(409, "a job with this external job ID already exists")
            if name and other.name == name:
                raise ApiError(409, f"a job with name {name!r} already exists")
        job = FakeJob(self._next_id, name, jtype, ext, text, spec)
        self._next_id += 1
        self.jobs[job.id] = job
        return job

    def _check_ocr1(self, spec: dict[str, Any]) -> None:
        """What ocr/validate.go and the job ORM refuse for an OCR1 spec."""
        for key in ("schemaVersion", "contractAddress", "isBootstrapPeer", "evmChainID"):
            if key not in spec:
                raise ApiError(400, f"missing required key {key}")
        address = spec["contractAddress"]
        if address != _eip55(address):
            raise ApiError(400, f"{address} is not a valid EIP55 formatted address")
        for other in self.jobs.values():
            if other.type == "offchainreporting" and other.spec["contractAddress"] == address:
                raise ApiError(
                    400,
                    f"a job with contract address {address} already exists for chain ID "
                    f"{spec['evmChainID']}",
                )
        if spec["isBootstrapPeer"]:
            if "observationSource" in spec:
                raise ApiError(400, "unrecognised key for bootstrap peer: observationSource")
            return
        if not spec.get("observationSource"):
            raise ApiError(400, "missing required key observationSource")
        if spec.get("keyBundleID") not in self.ocr_keys:
            raise ApiError(400, f"no key bundle with id: {spec.get('keyBundleID')}")
        transmitter = spec.get("transmitterAddress")
        if transmitter not in self.evm_keys:
            raise ApiError(400, f"no key matching transmitter address: {transmitter}")
        for b in spec.get("p2pv2Bootstrappers", []):
            peer, _, addr = b.partition("@")
            if not peer.startswith("12D3KooW") or ":" not in addr:
                raise ApiError(400, f"invalid bootstrapper {b!r}")

    # --- keys ----------------------------------------------------------------------------

    def _keys(self, kind: str) -> list[dict[str, Any]]:
        if kind == "evm":
            return [
                {
                    "type": "eTHKeys",
                    "id": a,
                    "attributes": {"address": a, "evmChainID": c, "disabled": False},
                }
                for a, c in self.evm_keys.items()
            ]
        if kind == "p2p":
            return [
                {
                    "type": "encryptedP2PKeys",
                    "id": p,
                    "attributes": {"peerId": "p2p_" + p, "publicKey": pub},
                }
                for p, pub in self.p2p_keys.items()
            ]
        keys = self.ocr2_keys if kind == "ocr2" else self.ocr_keys
        return [{"type": "keyV2s", "id": i, "attributes": dict(attrs)} for i, attrs in keys.items()]

    @staticmethod
    def _decrypt(doc: dict[str, Any], password: str) -> bytes:
        try:
            return bytes(
                eth_keyfile.decode_keyfile_json(
                    {"version": 3, "crypto": doc["crypto"]}, password.encode()
                )
            )
        except Exception:
            raise ApiError(400, "could not decrypt key with given password") from None

    def _import(
        self, kind: str, body: bytes, old: str, query: dict[str, list[str]]
    ) -> dict[str, Any]:
        doc = self._json(body)
        if kind == "evm":
            chain = (query.get("evmChainID") or [""])[0]
            if not chain:
                raise ApiError(400, "evmChainID is required")
            priv = self._decrypt(doc, old)
            address = Account.from_key(priv).address
            if address in self.evm_keys:
                raise ApiError(409, f"key with address {address} already exists")
            self.evm_keys[address] = chain
            return {"type": "eTHKeys", "id": address, "attributes": {"address": address}}
        if kind == "p2p":
            raw = self._decrypt(doc, "p2pkey" + old)
            if not raw.startswith(bytes([0x08, 0x01, 0x12, 0x40])) or len(raw) != 68:
                raise ApiError(400, "invalid key: missing libp2p protobuf prefix")
            seed, pub = raw[4:36], raw[36:]
            derived = ed25519.Ed25519PrivateKey.from_private_bytes(seed).public_key()
            if derived.public_bytes(Encoding.Raw, PublicFormat.Raw) != pub:
                raise ApiError(400, "corrupt ed25519 key")
            peer = _b58(bytes([0x00, 0x24, 0x08, 0x01, 0x12, 0x20]) + pub)
            if peer in self.p2p_keys:
                raise ApiError(409, f"key with ID {peer} already exists")
            self.p2p_keys[peer] = pub.hex()
            return {"type": "encryptedP2PKeys", "id": peer, "attributes": {"peerId": "p2p_" + peer}}
        if kind == "ocr":
            return self._import_ocr1(doc, old)
        raw = self._decrypt(doc, "ocr2key" + old)
        try:
            bundle = json.loads(raw)
            off = base64.b64decode(bundle["OffchainKeyring"])
            on = base64.b64decode(bundle["Keyring"])
        except Exception:
            raise ApiError(400, "failed to convert OCR2 key to key bundle") from None
        if bundle.get("ChainType") != "evm" or len(off) != 96 or len(on) != 32:
            raise ApiError(400, "failed to convert OCR2 key to key bundle")
        bundle_id = hashlib.sha256(raw).hexdigest()
        if bundle_id in self.ocr2_keys:
            raise ApiError(409, f"key with ID {bundle_id} already exists")
        signer = Account.from_key(on).address.lower()[2:]
        offpub = ed25519.Ed25519PrivateKey.from_private_bytes(off[:32]).public_key()
        cfgpub = x25519.X25519PrivateKey.from_private_bytes(off[64:]).public_key()
        self.ocr2_keys[bundle_id] = {
            "chainType": "evm",
            "onchainPublicKey": "ocr2on_evm_" + signer,
            "offChainPublicKey": "ocr2off_evm_"
            + offpub.public_bytes(Encoding.Raw, PublicFormat.Raw).hex(),
            "configPublicKey": "ocr2cfg_evm_"
            + cfgpub.public_bytes(Encoding.Raw, PublicFormat.Raw).hex(),
        }
        return {"type": "keyV2s", "id": bundle_id, "attributes": self.ocr2_keys[bundle_id]}

    def _import_ocr1(self, doc: dict[str, Any], old: str) -> dict[str, Any]:
        raw = self._decrypt(doc, "ocrkey" + old)
        try:
            bundle = json.loads(raw)  # Go: {"EcdsaD": <number>, "Ed25519PrivKey": b64, [32]}
            d = int(bundle["EcdsaD"])
            ed = base64.b64decode(bundle["Ed25519PrivKey"])
            enc = bytes(bundle["OffChainEncryption"])
        except Exception:
            raise ApiError(400, "failed to convert OCR key to key bundle") from None
        if len(ed) != 64 or len(enc) != 32 or d <= 0:
            raise ApiError(400, "failed to convert OCR key to key bundle")
        bundle_id = hashlib.sha256(raw).hexdigest()
        if bundle_id in self.ocr_keys:
            raise ApiError(409, f"key with ID {bundle_id} already exists")
        signer = Account.from_key(d.to_bytes(32, "big")).address
        offpub = ed25519.Ed25519PrivateKey.from_private_bytes(ed[:32]).public_key()
        cfgpub = x25519.X25519PrivateKey.from_private_bytes(enc).public_key()
        self.ocr_keys[bundle_id] = {
            "onChainSigningAddress": "ocrsad_" + signer,
            "offChainPublicKey": "ocroff_"
            + offpub.public_bytes(Encoding.Raw, PublicFormat.Raw).hex(),
            "configPublicKey": "ocrcfg_"
            + cfgpub.public_bytes(Encoding.Raw, PublicFormat.Raw).hex(),
        }
        return {"type": "keyV2s", "id": bundle_id, "attributes": self.ocr_keys[bundle_id]}


def _eip55(address: str) -> str:
    from eth_utils import to_checksum_address

    return str(to_checksum_address(address))


__all__ = ["FakeChainlinkNode", "FakeJob"]
