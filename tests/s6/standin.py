"""A small real service standing in for a component whose command is not on this branch.

HTTP 200 on every GET on 127.0.0.1:PORT; writes a newline to --notify-fd once listening
(the conventions.md readiness protocol); appends ``start NAME pid`` / ``stop NAME time``
to --events; stops on SIGTERM/SIGINT. With --exit N it exits N at once (a oneshot).
"""

from __future__ import annotations

import argparse
import http.server
import os
import signal
import sys
import time


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--name", required=True)
    p.add_argument("--events", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--notify-fd", type=int, default=None)
    p.add_argument("--exit", type=int, default=None)
    p.add_argument("--say", default=None, help="print this line on stdout at start")
    args = p.parse_args()

    def event(what: str) -> None:
        with open(args.events, "a") as fh:
            fh.write(f"{what} {args.name} {os.getpid()} {time.time():.6f}\n")

    event("start")
    if args.say:
        sys.stdout.write(args.say + "\n")
        sys.stdout.flush()
    if args.exit is not None:
        return args.exit

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok\n")

        def log_message(self, *a: object) -> None:
            pass

    srv = http.server.HTTPServer(("127.0.0.1", args.port), Handler)

    def stop(signum: int, frame: object) -> None:
        event("stop")
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.notify_fd is not None:
        os.write(args.notify_fd, b"\n")
        os.close(args.notify_fd)
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
