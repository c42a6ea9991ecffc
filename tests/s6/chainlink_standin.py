"""Stand-in for the Chainlink binary (not buildable here): the real command line, the real files.

Invoked exactly as the rendered tree invokes Chainlink 2.x (``chainlink node -config C -secrets
S start -a A``, the reference's scripts/bash/chainlink-entrypoint.sh). It reads the
``config.toml`` that ``sealfeed chainlink render`` wrote, refuses to start unless the secrets and
API-credentials files are readable (as the real node would), then answers ``GET /health`` with
200 on ``[WebServer] ListenIP:HTTPPort`` -- the probe the tree's readiness check polls.
``start``/``stop`` lines (name, pid, time) go to ``$SEALFEED_STANDIN_EVENTS`` when set.
SIGTERM/SIGINT stop it (the node's graceful shutdown).
"""

from __future__ import annotations

import http.server
import os
import signal
import sys
import time
import tomllib


def _event(what: str, name: str) -> None:
    path = os.environ.get("SEALFEED_STANDIN_EVENTS")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"{what} {name} {os.getpid()} {time.time():.6f}\n")


def _flag(argv: list[str], name: str) -> str:
    try:
        return argv[argv.index(name) + 1]
    except (ValueError, IndexError):
        sys.stderr.write(f"chainlink (stand-in): missing {name}\n")
        raise SystemExit(2) from None


def main(argv: list[str]) -> int:
    if argv[:1] != ["node"] or "start" not in argv:
        sys.stderr.write(f"chainlink (stand-in): unsupported command {argv!r}\n")
        return 2
    config = _flag(argv, "-config")
    with open(config, "rb") as fh:
        doc = tomllib.load(fh)
    for path in (_flag(argv, "-secrets"), _flag(argv, "-a")):
        with open(path, "rb") as fh:  # the real node reads them at start: must be readable
            fh.read(1)
    web = doc.get("WebServer", {})
    host, port = str(web.get("ListenIP", "127.0.0.1")), int(web["HTTPPort"])
    name = os.path.basename(os.path.dirname(os.path.abspath(config)))

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()
            self.wfile.write(b"{}\n")

        def log_message(self, *args: object) -> None:
            pass

    srv = http.server.HTTPServer((host, port), Health)

    def stop(signum: int, frame: object) -> None:
        _event("stop", name)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    _event("start", name)
    sys.stdout.write(f"chainlink (stand-in) {name}: API on {host}:{port}\n")
    sys.stdout.flush()
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
