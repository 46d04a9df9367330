"""The InfluxDB v1 HTTP API as both telemetry writer and reader speak it.

``/write`` (line protocol) and ``/query`` (InfluxQL): InfluxDB 1.x natively, 2.x / 3.x
/ Cloud through their v1-compatible endpoints. Credentials travel in the
``Authorization`` header, never in the URL (where they would end up in proxy and server
logs): a ``token`` as ``Token <token>`` (2.x, 3.x, Cloud; ``user:password`` on 1.8+),
else ``username``/``password`` as HTTP Basic (1.x, checked on 1.6.7, and the v1
endpoints of 2.x).
"""

# InfluxQL is built with every value escaped (_q / _ident): not SQL injection.
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx


class InfluxError(RuntimeError):
    pass


class InfluxConnection:
    """One HTTP client for one database, with the credentials in its headers."""

    def __init__(
        self,
        *,
        url: str,
        database: str,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.database = database
        headers = {"Authorization": f"Token {token}"} if token else {}
        auth = httpx.BasicAuth(username, password or "") if username and not token else None
        self.http = httpx.Client(timeout=timeout_s, headers=headers, auth=auth)

    def write(self, body: bytes, *, rp: str | None = None) -> httpx.Response:
        """``POST /write`` of line protocol (nanosecond timestamps), to ``rp`` or the
        database's default retention policy."""
        params = {"db": self.database, "precision": "ns"}
        if rp is not None:
            params["rp"] = rp
        return self.http.post(f"{self.url}/write", params=params, content=body)

    def query(self, q: str, *, write: bool = False) -> list[dict[str, Any]]:
        """Run InfluxQL; the ``results`` list. Raises :class:`InfluxError` on an error."""
        params = {"db": self.database, "q": q, "epoch": "ns"}
        if write:
            r = self.http.post(f"{self.url}/query", data=params)
        else:
            r = self.http.get(f"{self.url}/query", params=params)
        if r.status_code >= 300:
            raise InfluxError(f"/query answered {r.status_code}: {r.text[:200]}")
        results: list[dict[str, Any]] = r.json().get("results", [])
        for res in results:
            if "error" in res:
                raise InfluxError(res["error"])
        return results

    def close(self) -> None:
        self.http.close()


def q(value: str) -> str:
    """An InfluxQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def ident(value: str) -> str:
    """An InfluxQL identifier."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def series(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for res in results for s in res.get("series", [])]


def values(results: list[dict[str, Any]]) -> list[list[Any]]:
    return [row for s in series(results) for row in s.get("values", [])]


def rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        dict(zip(s["columns"], row, strict=True)) for s in series(results) for row in s["values"]
    ]


def from_ns(ns: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(ns) // 1000)


def local_day(ns: int, tz: ZoneInfo) -> date:
    return from_ns(ns).astimezone(tz).date()
