"""Security headers on every response the API sends: the one place they are set.

:class:`SecurityHeaders` is pure ASGI (``BaseHTTPMiddleware`` would buffer the live
stream), added outermost in :func:`cloud.api.app.create_app`, so it also covers the
admission gate's 503, the problem+json errors, the dashboard's files, ``/docs``,
``/redoc``, the CSVs and the SSE stream. Every response gets:

- ``Content-Security-Policy`` (:func:`content_security_policy`): scripts from the API's
  own origin only (no inline script, no ``eval``), nothing from a CDN; images also from
  the configured tile server (``[api.map] tiles_url``), if any; no framing.
- ``X-Frame-Options: DENY`` (what ``frame-ancestors 'none'`` says, for old browsers),
  ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: strict-origin`` (another
  origin learns at most the dashboard's origin, never a path or query; not
  ``no-referrer``: public tile servers such as OpenStreetMap's refuse tiles without
  a referrer).
- ``Cache-Control: no-store`` on every ``/api/`` response (balances, names, statements
  and CSVs are personal or money data; no browser or proxy keeps them). Only
  :data:`PUBLIC_CACHEABLE` routes (no personal data) keep a ``Cache-Control`` of their
  own. The dashboard's files (no data in them) are cached as the static server says.

An exception no handler answers would leave as Starlette's bare 500 from outside this
middleware: it is logged and answered here instead (problem+json, with the headers).
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cloud.api.errors import problem

log = logging.getLogger(__name__)

#: ``/api/`` paths whose own ``Cache-Control`` is kept (public, no personal data)
PUBLIC_CACHEABLE = ("/api/v1/public/",)

#: Styles may be inline: ReDoc (styled-components) writes ``<style>`` elements and the
#: pages use a few ``style=""`` attributes; a style cannot run script.
_POLICY = (
    ("default-src", "'self'"),
    ("script-src", "'self'"),
    ("style-src", "'self' 'unsafe-inline'"),
    ("img-src", "'self' data:"),
    ("font-src", "'self' data:"),
    ("connect-src", "'self'"),
    ("worker-src", "'self'"),
    ("manifest-src", "'self'"),
    ("object-src", "'none'"),
    ("base-uri", "'none'"),
    ("form-action", "'self'"),
    ("frame-ancestors", "'none'"),
)


def tile_source(tiles_url: str | None) -> str | None:
    """The CSP source of a Leaflet tile URL template (None: none, or the API's own origin).

    ``https://{s}.tile.example.org/{z}/{x}/{y}.png`` -> ``https://*.tile.example.org``.
    """
    if not tiles_url or tiles_url.startswith("/"):
        return None
    parts = urlsplit(tiles_url)
    host = parts.netloc.rpartition("@")[2]
    labels = host.split(".")
    if "{" in labels[0]:
        labels[0] = "*"  # a subdomain template ({s}): any subdomain of that host
    host = ".".join(labels)
    if "{" in host or "}" in host:
        raise ValueError(f"tiles_url: cannot allow a templated host {parts.netloc!r}")
    return f"{parts.scheme}://{host}"


def content_security_policy(tiles_url: str | None = None) -> str:
    """The API's Content-Security-Policy, images also from the tile server of ``tiles_url``."""
    tiles = tile_source(tiles_url)
    return "; ".join(
        f"{name} {value} {tiles}" if name == "img-src" and tiles else f"{name} {value}"
        for name, value in _POLICY
    )


class SecurityHeaders:
    """Pure ASGI: adds the security headers to every HTTP response (see the module)."""

    def __init__(self, app: ASGIApp, *, csp: str) -> None:
        self.app = app
        common = (
            (b"content-security-policy", csp.encode("latin-1")),
            (b"x-frame-options", b"DENY"),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"strict-origin"),
        )
        # set on every response, replacing any header of the same name; built once (the
        # balance lookup's whole answer costs ~400 us, MutableHeaders' five sets ~15)
        self.common: tuple[tuple[bytes, bytes], ...] = common
        self.common_names = frozenset(name for name, _ in common)
        self.private: tuple[tuple[bytes, bytes], ...] = (*common, (b"cache-control", b"no-store"))
        self.private_names = frozenset(name for name, _ in self.private)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        api = path.startswith("/api/")
        public = path.startswith(PUBLIC_CACHEABLE)
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                raw = message.get("headers", ())
                if api and not (public and any(k.lower() == b"cache-control" for k, _ in raw)):
                    names, added = self.private_names, self.private
                else:
                    names, added = self.common_names, self.common
                message["headers"] = [
                    *((k, v) for k, v in raw if k.lower() not in names),
                    *added,
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            if started:
                raise  # too late for an answer: the server logs it and cuts the connection
            log.exception("unhandled error: %s %s", scope.get("method"), path)
            failed = problem(500, "internal", "the server failed; the error is logged")
            await failed(scope, receive, send_with_headers)
