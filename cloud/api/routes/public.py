"""The public verification of a receipt: no login, no personal data, rate-limited.

``GET /api/v1/public/verify/{code}`` answers the record behind a verification code
(:func:`cloud.verification.public_record`) or 404 ``no such code`` — the same answer,
whatever is wrong with the code (malformed, unknown). ``GET .../qr.svg`` is the QR code
of the page that verifies it (``/verify.html#<code>``), drawn without looking the code
up, so it tells nothing either. The page itself is ``cloud/api/static/verify.html``.

Not an enumeration oracle: codes carry 60 random bits (:mod:`cloud.verification`), are
looked up by their SHA-256, and every client address may ask :data:`PER_CLIENT` times a
minute (:data:`OVERALL` for everyone together, per API process) before it gets 429.
"""

from __future__ import annotations

import io
import threading
import time
from collections import OrderedDict
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from cloud import verification
from cloud.api.clientaddr import request_address
from cloud.api.deps import StateDep, SystemSessionDep
from cloud.api.errors import ApiError, error_responses
from contract.codes import format_code, normalise_code

router = APIRouter(prefix="/api/v1/public", tags=["public"])

#: lookups per minute per client address, and for all clients together
PER_CLIENT = 20
OVERALL = 600
Code = Annotated[
    str, Path(min_length=1, max_length=40, description="as printed, e.g. 7K3Q-X9M2-PA4T")
]


class RateLimit:
    """Token buckets per key (refilled continuously), bounded in memory."""

    def __init__(self, per_minute: int, overall: int, keys: int = 10_000) -> None:
        self.rate, self.overall_rate = per_minute / 60.0, overall / 60.0
        self.per_minute, self.overall = per_minute, overall
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._all = (float(overall), time.monotonic())
        self._keys = keys
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            tokens, at = self._all
            tokens = min(self.overall, tokens + (now - at) * self.overall_rate)
            mine, mine_at = self._buckets.pop(key, (float(self.per_minute), now))
            mine = min(self.per_minute, mine + (now - mine_at) * self.rate)
            ok = tokens >= 1 and mine >= 1
            if ok:
                tokens, mine = tokens - 1, mine - 1
            self._all = (tokens, now)
            self._buckets[key] = (mine, now)
            while len(self._buckets) > self._keys:
                self._buckets.popitem(last=False)
            return ok


_limits = RateLimit(PER_CLIENT, OVERALL)


def _limited(request: Request, state: StateDep) -> None:
    if not _limits.allow(request_address(request, state.trusted_proxies)):
        raise ApiError(
            429,
            "too-many-requests",
            "too many lookups; try again in a minute",
            headers={"Retry-After": "60"},
        )


@router.get(
    "/verify/{code}",
    responses=error_responses(404, 429),
    summary="The signed weigh-in record behind a receipt's verification code (no login)",
)
def verify(
    code: Code, request: Request, state: StateDep, session: SystemSessionDep
) -> dict[str, Any]:
    _limited(request, state)
    rec = verification.find(session, code)
    if rec is None:
        raise ApiError(404, "not-found", "no such code", title="Not found")
    return verification.public_record(session, rec)


@router.get(
    "/verify/{code}/qr.svg",
    responses=error_responses(404, 429),
    response_class=Response,
    summary="QR code of the verification page for a code",
)
def qr(code: Code, request: Request, state: StateDep) -> Response:
    import segno

    _limited(request, state)
    normal = normalise_code(code)
    if normal is None:
        raise ApiError(404, "not-found", "no such code", title="Not found")
    url = f"{str(request.base_url).rstrip('/')}/verify.html#{format_code(normal)}"
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=4, border=2, xmldecl=False)
    return Response(
        out.getvalue(), media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"}
    )
