"""A real HTTP endpoint that receives webhooks and checks their Standard Webhooks signature
with its own code (not kadr's)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def independent_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.split("_", 1)[1])
    mac = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


class Receiver:
    """A real HTTP server that verifies each delivery's signature with its own code."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.status = 204
        #: Statuses for the next deliveries, before `status` applies again (e.g. [500, 500]).
        self.next_statuses: list[int] = []
        self.location = ""
        self.received: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                signature = self.headers["webhook-signature"]
                expected = independent_signature(
                    receiver.secret, self.headers["webhook-id"], int(self.headers["webhook-timestamp"]), body
                )
                receiver.received.append(
                    {
                        "path": self.path,
                        "time": time.time(),
                        "headers": {key.lower(): value for key, value in self.headers.items()},
                        "json": json.loads(body),
                        "valid": hmac.compare_digest(signature, expected),
                        "fresh": abs(time.time() - int(self.headers["webhook-timestamp"])) < 60,
                    }
                )
                status = receiver.next_statuses.pop(0) if receiver.next_statuses else receiver.status
                receiver.received[-1]["status"] = status
                self.send_response(status)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/kadr"

    def __enter__(self) -> Receiver:
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()
