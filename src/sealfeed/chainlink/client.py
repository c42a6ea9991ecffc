"""A small client of one Chainlink node's REST API (IO edge; stdlib HTTP, blocking).

Behaviour relied upon (Chainlink operator API, as used by the CLI and operator UI):

* ``POST /sessions`` with ``{"email", "password"}`` sets the ``clsession`` cookie.
* ``GET /v2/csrf`` -- when the node has it -- returns a token (``X-CSRF-Token`` header or
  ``data.csrfToken``) that every state-changing request echoes in ``X-CSRF-Token``; a 404
  means the node does not use CSRF tokens.
* JSON:API documents (``{"data": ...}``); failures as ``{"errors": [{"detail": "..."}]}``.
* ``/v2/jobs`` (list, paginated with ``page``/``size`` and ``meta.count``; create with
  ``{"toml": ...}``; ``DELETE /v2/jobs/<id>``) and ``/v2/keys/{evm,p2p,ocr2}`` (list,
  ``POST .../import?oldpassword=...`` with the export JSON as body).

While a node starts, its API refuses connections or answers 5xx: those are retried with
exponential backoff (``RetryPolicy``) until a deadline; 4xx and 501 (a job type whose feature
the node's config disables) are final. Passwords only travel
in request bodies/the import query string and are never logged.
"""

from __future__ import annotations

import http.client
import http.cookiejar
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sealfeed.errors import ExternalError
from sealfeed.secret import Secret

_log = logging.getLogger("sealfeed.chainlink.client")

SESSION_COOKIE = "clsession"
CSRF_HEADER = "X-CSRF-Token"
NOT_IMPLEMENTED = 501
#: page size for ``GET /v2/jobs`` (the API paginates; we follow ``meta.count``)
JOBS_PAGE_SIZE = 100


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff while the node is starting: initial, x factor, capped, until ``deadline_s``."""

    initial_s: float = 0.5
    factor: float = 2.0
    max_s: float = 10.0
    deadline_s: float = 180.0

    def delays(self) -> Any:
        delay = self.initial_s
        while True:
            yield delay
            delay = min(delay * self.factor, self.max_s)


class NodeApiError(ExternalError):
    """The node answered with an error (status and the ``errors[].detail`` text)."""

    def __init__(self, message: str, *, status: int | None, location: str) -> None:
        super().__init__(message, location=location)
        self.status = status


@dataclass(frozen=True)
class RemoteJob:
    id: str
    name: str
    type: str
    external_job_id: str


def _details(body: Any) -> str:
    if isinstance(body, Mapping) and isinstance(body.get("errors"), list):
        parts = [str(e.get("detail", "")) for e in body["errors"] if isinstance(e, Mapping)]
        text = "; ".join(p for p in parts if p)
        if text:
            return text
    return ""


class NodeClient:
    def __init__(
        self,
        base_url: str,
        email: str,
        password: Secret,
        *,
        label: str,
        timeout_s: float = 10.0,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("node API URL must be http(s)")
        self.base_url = base_url.rstrip("/")
        self.label = label
        self._email = email
        self._password = password
        self._timeout = timeout_s
        self._retry = retry
        self._sleep = sleep
        self._clock = clock
        self._jar = http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self._jar),
            urllib.request.ProxyHandler({}),  # never send loopback API calls to a proxy
        )
        self._csrf: str | None = None
        self.retries = 0

    # --- transport ------------------------------------------------------------------------

    def _once(
        self, method: str, path: str, body: bytes | None, query: Mapping[str, str] | None
    ) -> tuple[int, Mapping[str, str], Any]:
        url = self.base_url + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self._csrf and method not in ("GET", "HEAD"):
            headers[CSRF_HEADER] = self._csrf
        req = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
        try:
            with self._opener.open(req, timeout=self._timeout) as resp:
                status, hdrs, raw = resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            status, hdrs, raw = exc.code, dict(exc.headers or {}), exc.read()
        try:
            doc = json.loads(raw) if raw else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            doc = None
        return status, hdrs, doc

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        raw_body: bytes | None = None,
        query: Mapping[str, str] | None = None,
        ok: tuple[int, ...] = (200, 201, 204),
        relogin: bool = True,
    ) -> tuple[int, Mapping[str, str], Any]:
        body = (
            raw_body
            if raw_body is not None
            else (json.dumps(json_body).encode() if json_body is not None else None)
        )
        start = self._clock()
        delays = self._retry.delays()
        where = f"{self.label} {method} {path}"
        while True:
            try:
                status, hdrs, doc = self._once(method, path, body, query)
                # 501 is the node saying a feature is off in its config (jobs_controller.go),
                # not a node that is still starting: final, like 4xx
                transient = status >= 500 and status != NOT_IMPLEMENTED
                reason = f"HTTP {status}" + (f": {_details(doc)}" if _details(doc) else "")
            except (
                TimeoutError,
                urllib.error.URLError,
                ConnectionError,
                http.client.HTTPException,
                OSError,
            ) as exc:
                transient, status, hdrs, doc = True, 0, {}, None
                reason = getattr(exc, "reason", None) or exc.__class__.__name__
                reason = f"unreachable: {reason}"
            if not transient:
                break
            delay = next(delays)
            if self._clock() - start + delay > self._retry.deadline_s:
                raise NodeApiError(
                    f"node not ready after {self._retry.deadline_s:g}s ({reason})",
                    status=status or None,
                    location=where,
                )
            self.retries += 1
            _log.info(
                "chainlink node not ready; retrying",
                extra={
                    "event": "chainlink_api_retry",
                    "node": self.label,
                    "path": path,
                    "reason": str(reason),
                    "delay_s": delay,
                },
            )
            self._sleep(delay)
        if status == 401 and relogin and path != "/sessions":
            self.login()
            return self.request(
                method,
                path,
                json_body=json_body,
                raw_body=raw_body,
                query=query,
                ok=ok,
                relogin=False,
            )
        if status not in ok:
            detail = _details(doc) or "no error detail"
            raise NodeApiError(f"HTTP {status}: {detail}", status=status, location=where)
        return status, hdrs, doc

    # --- session ----------------------------------------------------------------------------

    def login(self) -> None:
        self.request(
            "POST",
            "/sessions",
            json_body={"email": self._email, "password": self._password.reveal()},
            ok=(200, 201),
            relogin=False,
        )
        if not any(c.name == SESSION_COOKIE for c in self._jar):
            raise NodeApiError(
                f"login did not set the {SESSION_COOKIE} cookie",
                status=None,
                location=f"{self.label} POST /sessions",
            )
        status, hdrs, doc = self.request("GET", "/v2/csrf", ok=(200, 404), relogin=False)
        self._csrf = None
        if status == 200:
            token = {k.lower(): v for k, v in hdrs.items()}.get(CSRF_HEADER.lower())
            if not token and isinstance(doc, Mapping):
                data = doc.get("data")
                if isinstance(data, Mapping):
                    token = data.get("csrfToken") or (data.get("attributes") or {}).get("csrfToken")
            self._csrf = token or None

    # --- jobs -------------------------------------------------------------------------------

    def list_jobs(self) -> list[RemoteJob]:
        jobs: list[RemoteJob] = []
        page = 1
        while True:
            _, _, doc = self.request(
                "GET", "/v2/jobs", query={"page": str(page), "size": str(JOBS_PAGE_SIZE)}, ok=(200,)
            )
            data = doc.get("data") if isinstance(doc, Mapping) else None
            if not isinstance(data, list):
                raise NodeApiError(
                    "malformed job list", status=200, location=f"{self.label} GET /v2/jobs"
                )
            for item in data:
                jobs.append(self._job(item))
            count = (doc.get("meta") or {}).get("count") if isinstance(doc, Mapping) else None
            if not data or not isinstance(count, int) or len(jobs) >= count:
                return jobs
            page += 1

    def _job(self, item: Any) -> RemoteJob:
        try:
            attrs = item["attributes"]
            return RemoteJob(
                id=str(item["id"]),
                name=str(attrs.get("name") or ""),
                type=str(attrs.get("type") or ""),
                external_job_id=str(attrs.get("externalJobID") or "").lower(),
            )
        except (KeyError, TypeError, AttributeError):
            raise NodeApiError(
                "malformed job resource", status=None, location=f"{self.label} /v2/jobs"
            ) from None

    def create_job(self, toml: str) -> RemoteJob:
        _, _, doc = self.request("POST", "/v2/jobs", json_body={"toml": toml}, ok=(200, 201))
        return self._job(doc.get("data") if isinstance(doc, Mapping) else None)

    def delete_job(self, job_id: str) -> None:
        self.request("DELETE", f"/v2/jobs/{urllib.parse.quote(job_id, safe='')}", ok=(200, 204))

    # --- keys -------------------------------------------------------------------------------

    def list_keys(self, kind: str) -> list[dict[str, Any]]:
        _, _, doc = self.request("GET", f"/v2/keys/{kind}", ok=(200,))
        data = doc.get("data") if isinstance(doc, Mapping) else None
        if not isinstance(data, list):
            raise NodeApiError(
                "malformed key list", status=200, location=f"{self.label} /v2/keys/{kind}"
            )
        out = []
        for item in data:
            if isinstance(item, Mapping):
                attrs = item.get("attributes")
                row: dict[str, Any] = dict(attrs) if isinstance(attrs, Mapping) else {}
                row["id"] = str(item.get("id", ""))
                out.append(row)
        return out

    def delete_key(self, kind: str, key_id: str) -> None:
        self.request(
            "DELETE", f"/v2/keys/{kind}/{urllib.parse.quote(key_id, safe='')}", ok=(200, 204)
        )

    def import_key(
        self, kind: str, export: Mapping[str, Any], password: Secret, *, chain_id: int | None = None
    ) -> None:
        query = {"oldpassword": password.reveal()}
        if chain_id is not None:
            query["evmChainID"] = str(chain_id)
        self.request(
            "POST",
            f"/v2/keys/{kind}/import",
            raw_body=json.dumps(export).encode(),
            query=query,
            ok=(200, 201),
        )


__all__ = ["NodeApiError", "NodeClient", "RemoteJob", "RetryPolicy"]
