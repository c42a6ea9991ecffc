"""Stand-in for the Chainlink binary that speaks TCP to its peers (stdlib only: it runs as an
unprivileged user with the system Python).

Invoked as the rendered tree invokes Chainlink 2.x (``chainlink node -config C -secrets S
start -a A``). From the ``config.toml`` that ``sealfeed chainlink render`` wrote it takes
what the real node takes for its P2P network:

* it listens on ``P2P.V2.ListenAddresses[0]``;
* a non-bootstrap node dials every ``P2P.V2.DefaultBootstrappers`` entry
  (``peer@host:port``), says ``HELLO <name> <announce>`` and gets back every announcement
  the bootstrap node has seen (``PEERS {json}``): discovery, as OCR's bootstrappers do;
* it then dials every announced peer and exchanges ``HELLO`` / ``HI <name>`` -- the bytes
  cross VMs through the attested link's tunnel endpoints when the peer is elsewhere.

It answers ``GET /health`` on ``[WebServer] ListenIP:HTTPPort`` (the tree's readiness probe)
and prints one JSON line per change (``reached`` / ``lost`` a peer, ``hello`` from one) on
stdout, which s6-log keeps under the node's log directory for the test to read.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import signal
import socket
import sys
import threading
import time
import tomllib

PERIOD = 0.5


def say(**event: object) -> None:
    sys.stdout.write(json.dumps(event, sort_keys=True) + "\n")
    sys.stdout.flush()


def split(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host.strip("[]"), int(port)


def exchange(addr: str, line: str) -> str:
    with socket.create_connection(split(addr), timeout=5) as s:
        s.sendall(line.encode() + b"\n")
        f = s.makefile("rb")
        return f.readline().decode().strip()


class Node:
    def __init__(self, name: str, doc: dict[str, object]) -> None:
        p2p = doc["P2P"]["V2"]  # type: ignore[index]
        self.name = name
        self.listen = str(p2p["ListenAddresses"][0])  # type: ignore[index]
        self.announce = str(p2p["AnnounceAddresses"][0])  # type: ignore[index]
        self.bootstrappers = [str(b).split("@", 1)[1] for b in p2p["DefaultBootstrappers"]]  # type: ignore[index]
        self.is_bootstrap = not self.bootstrappers
        self.known: dict[str, str] = {}  # name -> announce (the bootstrap node's registry)
        self.reached: set[str] = set()
        self.lock = threading.Lock()

    def serve(self) -> None:
        srv = socket.create_server(split(self.listen))
        while True:
            conn, _ = srv.accept()
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                words = conn.makefile("rb").readline().decode().split()
            except OSError:
                return
            if len(words) != 3 or words[0] != "HELLO":
                return
            peer, announce = words[1], words[2]
            with self.lock:
                new = self.known.get(peer) != announce
                self.known[peer] = announce
                peers = dict(self.known)
            if new:
                say(event="hello", node=self.name, peer=peer, announce=announce)
            reply = f"PEERS {json.dumps(peers)}" if self.is_bootstrap else f"HI {self.name}"
            with contextlib.suppress(OSError):
                conn.sendall(reply.encode() + b"\n")

    def mark(self, peer: str, ok: bool, via: str) -> None:
        if ok and peer not in self.reached:
            self.reached.add(peer)
            say(event="reached", node=self.name, peer=peer, via=via)
        elif not ok and peer in self.reached:
            self.reached.discard(peer)
            say(event="lost", node=self.name, peer=peer, via=via)

    def dial_loop(self) -> None:
        hello = f"HELLO {self.name} {self.announce}"
        while True:
            for boot in self.bootstrappers:
                try:
                    reply = exchange(boot, hello)
                except OSError:
                    reply = ""
                ok = reply.startswith("PEERS ")
                self.mark(f"bootstrap@{boot}", ok, boot)
                if not ok:
                    continue
                for peer, addr in json.loads(reply[6:]).items():
                    if peer == self.name:
                        continue
                    try:
                        answer = exchange(addr, hello)
                    except OSError:
                        answer = ""
                    self.mark(peer, answer == f"HI {peer}", addr)
            time.sleep(PERIOD)


def main(argv: list[str]) -> int:
    if argv[:1] != ["node"] or "start" not in argv or "-config" not in argv:
        sys.stderr.write(f"chainlink (p2p stand-in): unsupported command {argv!r}\n")
        return 2
    config = argv[argv.index("-config") + 1]
    with open(config, "rb") as fh:
        doc = tomllib.load(fh)
    name = os.path.basename(os.path.dirname(os.path.abspath(config)))
    node = Node(name, doc)
    web = doc["WebServer"]

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    health = http.server.HTTPServer((str(web["ListenIP"]), int(web["HTTPPort"])), Health)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    threading.Thread(target=node.serve, daemon=True).start()
    if not node.is_bootstrap:
        threading.Thread(target=node.dial_loop, daemon=True).start()
    say(event="start", node=name, listen=node.listen, bootstrappers=node.bootstrappers)
    health.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
