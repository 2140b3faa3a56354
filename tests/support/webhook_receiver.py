"""A Standard Webhooks receiver on 127.0.0.1, in threads, for the delivery worker's tests: every
post is verified with the ``standardwebhooks`` library, as a real receiver would, and kept;
``answer`` decides the reply (status and body) and may sleep to play a slow receiver."""

from __future__ import annotations

import base64
import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook

SECRET = "whsec_" + base64.b64encode(bytes(range(40, 72))).decode()


@dataclass(frozen=True)
class Post:
    webhook_id: str
    body: dict[str, Any]
    raw: bytes


Answer = Callable[[Post, int], tuple[int, bytes]]  # the post, how many times its id came


def accept(_post: Post, _seen: int) -> tuple[int, bytes]:
    return 204, b""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the worker opens up to 32 connections at once


class WebhookReceiver:
    def __init__(self, answer: Answer = accept) -> None:
        self.answer = answer
        self.posts: list[Post] = []
        self.arrived = threading.Event()  # set at the first post, before it is answered
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                Webhook(SECRET).verify(raw, dict(self.headers.items()))  # raises if forged
                post = Post(self.headers["webhook-id"], json.loads(raw), raw)
                with receiver.lock:
                    receiver.posts.append(post)
                    seen = sum(1 for p in receiver.posts if p.webhook_id == post.webhook_id)
                receiver.arrived.set()
                status, body = receiver.answer(post, seen)
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(p.webhook_id for p in self.posts)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)
