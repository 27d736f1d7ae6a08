"""A real HTTP receiver for notification tests: http.server on a free loopback port, in a thread.

Every request is recorded (method, path, headers, raw body). The path says how to answer:

    /ok/...        200 "ok"
    /accepted/...  202 (as Teams Workflows answers)
    /throttled/... 200 with the throttling text a Teams connector answers instead of a 429
    /fail/...      500 "rollup_error"
    /gone/...      410 "channel_is_archived"
    /redirect/...  302 to /ok/redirected (which a sender must not follow)
    /slow/...      waits `slow_s` seconds before answering 200 (a sender's timeout fires first)
    /flaky/N/...   500 to the first N requests on that path, then 200
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when it arrived

    def json(self):
        return json.loads(self.body)


class Receiver:
    def __init__(self, *, slow_s: float = 3.0):
        self.slow_s = slow_s
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._server: ThreadingHTTPServer | None = None

    def __enter__(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.requests.append(
                        Request("POST", self.path, dict(self.headers.items()), body, time.monotonic())
                    )
                    receiver._counts[self.path] = receiver._counts.get(self.path, 0) + 1
                    seen = receiver._counts[self.path]
                status, answer, extra = receiver._answer(self.path, seen)
                try:
                    self.send_response(status)
                    for name, value in extra.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender gave up waiting

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _answer(self, path: str, seen: int) -> tuple[int, bytes, dict]:
        first = path.strip("/").split("/")[0]
        if first == "ok":
            return 200, b"ok", {}
        if first == "accepted":
            return 202, b"", {}
        if first == "throttled":
            return 200, b"Microsoft Teams endpoint returned HTTP error 429", {}
        if first == "fail":
            return 500, b"rollup_error", {}
        if first == "gone":
            return 410, b"channel_is_archived", {}
        if first == "redirect":
            return 302, b"", {"Location": self.url("/ok/redirected")}
        if first == "slow":
            time.sleep(self.slow_s)
            return 200, b"late", {}
        if first == "flaky":
            failures = int(path.strip("/").split("/")[1])
            return (500, b"try again", {}) if seen <= failures else (200, b"ok", {})
        return 404, b"no such path", {}

    def to(self, prefix: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(prefix)]

    def wait_for(self, prefix: str, count: int, timeout: float = 30.0) -> list[Request]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.to(prefix)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{len(self.to(prefix))} request(s) to {prefix}, not {count}, after {timeout}s")
