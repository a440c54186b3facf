"""A local web server standing in for the farm's sites in the cron URL tests and bench: it counts calls.

Paths: /ok; /status/<code>; /flaky/<n>/<key> (503 for the first n calls of key, then 200);
/slow/<seconds>; /redirect-same (to /ok); /redirect-other/<host> (to /ok on that host);
/redirect-bad (a Location that is no URL); /big (200 KB). Bound to one loopback address, on a free port.
"""
import threading
import time
from collections import Counter
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        return None

    def _answer(self, status: int, body: bytes = b"ok", headers: dict | None = None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802 (http.server's name)
        server = self.server
        with server.lock:
            server.calls.append({"path": self.path, "host": self.headers.get("Host"),
                                 "user_agent": self.headers.get("User-Agent"), "at": time.time()})
            server.counts[self.path] += 1
            count = server.counts[self.path]
        parts = self.path.split("?")[0].strip("/").split("/")
        if parts[0] == "ok":
            return self._answer(200, b"cron done")
        if parts[0] == "status":
            return self._answer(int(parts[1]), b"status")
        if parts[0] == "flaky":
            return self._answer(503 if count <= int(parts[1]) else 200, b"flaky")
        if parts[0] == "slow":
            time.sleep(float(parts[1]))
            return self._answer(200, b"slow")
        if parts[0] == "redirect-same":
            return self._answer(302, b"", {"Location": "/ok"})
        if parts[0] == "redirect-other":
            return self._answer(302, b"", {"Location": f"http://{parts[1]}/ok"})
        if parts[0] == "big":
            return self._answer(200, b"x" * 200_000)
        if parts[0] == "redirect-bad":
            return self._answer(302, b"", {"Location": "http://[x/"})
        return self._answer(404, b"no such path")


class CronServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1"):
        super().__init__((host, 0), _Handler)
        self.lock = threading.Lock()
        self.calls: list[dict] = []
        self.counts: Counter = Counter()

    def url(self, path: str, host: str | None = None) -> str:
        return f"http://{host or self.server_address[0]}:{self.server_address[1]}{path}"

    def called(self, path: str) -> int:
        with self.lock:
            return self.counts[path]


@contextmanager
def cron_server(host: str = "127.0.0.1"):
    server = CronServer(host)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
