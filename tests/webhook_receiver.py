"""A local HTTP receiver for webhook calls, shared by the automation tests."""

from __future__ import annotations

import contextlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """A local HTTP server that records POSTs; answers 500 to the first `failures` of those
    sent to /hook (other paths always get 200). With `stall_first`, it holds the first request
    without answering until `release` is set (a call in flight when its caller dies)."""

    def __init__(self, failures: int = 0, stall_first: bool = False) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.failures = failures
        self.release = threading.Event()
        if not stall_first:
            self.release.set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.requests.append((dict(self.headers), body))
                receiver.release.wait(30)
                failing = self.path == "/hook" and receiver.failures > 0
                receiver.failures -= failing
                with contextlib.suppress(OSError):  # the caller may be gone by now
                    self.send_response(500 if failing else 200)
                    self.send_header("content-length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
