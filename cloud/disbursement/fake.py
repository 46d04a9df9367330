"""A fake payment provider on localhost that speaks :mod:`.providers`' protocol, for tests
and the demo: real HTTP, idempotency keys honoured, outcomes delivered by signed callback.

>>> with FakeProvider(callback_secret="s") as fake:          # doctest: +SKIP
...     HttpProvider(fake.url, "key").send(request)

Accounts listed in ``fail_accounts`` fail ("account not found"); every other transfer
succeeds. The callback is posted from a worker thread once the request has been
answered (``auto_callback``), or when the test calls :meth:`deliver`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from cloud.disbursement.providers import sign


@dataclass
class _Transfer:
    id: str
    body: dict[str, Any]
    status: str
    failure: str | None = None


@dataclass
class FakeProvider:
    callback_secret: str
    api_key: str = "fake-provider-key"
    fail_accounts: set[str] = field(default_factory=set)
    auto_callback: bool = True
    by_key: dict[str, _Transfer] = field(default_factory=dict)
    requests: int = 0
    callbacks: list[int] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _handle(self, handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, Any]]:
        if handler.headers.get("Authorization") != f"Bearer {self.api_key}":
            return 401, {"error": "bad api key"}
        key = handler.headers.get("Idempotency-Key")
        if not key:
            return 400, {"error": "Idempotency-Key required"}
        body = json.loads(handler.rfile.read(int(handler.headers.get("Content-Length", 0))))
        with self._lock:
            self.requests += 1
            t = self.by_key.get(key)
            if t is None:
                t = _Transfer(id=f"fake-{len(self.by_key) + 1}", body=body, status="pending")
                self.by_key[key] = t
                fresh = True
            else:
                fresh = False
        if fresh and self.auto_callback:
            threading.Thread(target=self.deliver, args=(key,), daemon=True).start()
        return 200, {"id": t.id, "status": t.status}

    def deliver(self, key: str) -> int:
        """Decide the transfer and POST its outcome to its callback URL; the HTTP status."""
        t = self.by_key[key]
        failed = t.body["account"] in self.fail_accounts
        t.status, t.failure = ("failed", "account not found") if failed else ("succeeded", None)
        raw = json.dumps(
            {"reference": t.body["reference"], "id": t.id, "status": t.status, "failure": t.failure}
        ).encode()
        r = httpx.post(
            t.body["callback_url"],
            content=raw,
            timeout=10,
            headers={
                "Content-Type": "application/json",
                "X-Signature": sign(self.callback_secret, raw),
            },
        )
        self.callbacks.append(r.status_code)
        return r.status_code

    @contextmanager
    def running(self) -> Iterator[FakeProvider]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                status, data = fake._handle(self)
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join(5)

    def __enter__(self) -> FakeProvider:
        self._cm = self.running()
        return self._cm.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._cm.__exit__(None, None, None)
