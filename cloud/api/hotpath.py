"""A household's balance without FastAPI's per-request machinery, when all is well.

The balance is the API's hottest read (every household, on every phone, and the counter
before each payout). Through FastAPI 0.165 one lookup costs ~400 us of the worker's CPU
before our own code runs: dependency solving, route matching, request and response
objects (``docs/benchmarks.md``). :class:`HotReads` answers
``GET /api/v1/households/{id}/balance`` itself, as a pure ASGI layer inside the admission
gate and the security headers, with the route's own pieces:

* the rules: :func:`cloud.api.deps.account_within_reach` (token, live subject, role,
  reach), which the route's dependency calls too;
* the token: read from the ``Authorization`` header the way FastAPI's ``HTTPBearer``
  reads it (:func:`fastapi.security.utils.get_authorization_scheme_param`);
* the body: :func:`cloud.api.routes.accounts.balance_json`, the route's own.

It answers only the plain success. Anything else (no or bad token, a role or a reach
refused, a query string, an id out of range, a database error) goes on to the FastAPI
route, which applies the same rules again and answers with its usual problem document:
so every refusal has one home, and the fast answer is the route's answer, byte for byte
(``tests/api/test_hotpath.py`` compares them). ``fast_balance = false`` switches it off.
"""

from __future__ import annotations

import logging
import re

from fastapi.security.utils import get_authorization_scheme_param
from starlette.types import ASGIApp, Receive, Scope, Send

from cloud.api.deps import account_within_reach
from cloud.api.routes.accounts import balance_json
from cloud.api.state import ApiState

log = logging.getLogger(__name__)

#: the route's path, with its id bounds (1 .. 2**31 - 1) checked after the match
BALANCE = re.compile(r"/api/v1/households/([1-9][0-9]{0,9})/balance")
MAX_ID = 2**31 - 1


class HotReads:
    """Pure ASGI: the balance route's success answered without FastAPI (module docstring)."""

    def __init__(self, app: ASGIApp, state: ApiState) -> None:
        self.app = app
        self.state = state
        #: lookups answered here (the rest went on to the route)
        self.answered = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope["query_string"]:
            match = BALANCE.fullmatch(scope["path"])
            if match is not None:
                body = await self._balance(scope, int(match[1]))
                if body is not None:
                    self.answered += 1
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 200,
                            "headers": [
                                (b"content-length", str(len(body)).encode()),
                                (b"content-type", b"application/json"),
                            ],
                        }
                    )
                    await send({"type": "http.response.body", "body": body})
                    return
        await self.app(scope, receive, send)

    async def _balance(self, scope: Scope, household_id: int) -> bytes | None:
        """The route's body, or None: let the route answer (and refuse) itself."""
        if household_id > MAX_ID:
            return None
        token = _bearer(scope)
        if token is None:
            return None
        try:
            await account_within_reach(self.state, token, household_id, fresh=False)
            return await balance_json(self.state, household_id)
        except Exception:  # the route answers it (and logs what it must)
            log.debug("balance of %s: left to the route", household_id, exc_info=True)
            return None


def _bearer(scope: Scope) -> str | None:
    """The credentials of the one ``Authorization: Bearer`` header, as ``HTTPBearer``."""
    found = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            if found is not None:
                return None  # two: the route decides
            found = value
    if found is None:
        return None
    scheme, credentials = get_authorization_scheme_param(found.decode("latin-1"))
    if scheme.lower() != "bearer" or not credentials:
        return None
    return credentials
