"""No NUL (U+0000) in anything a request hands the API: refused with 422 naming the field.

PostgreSQL cannot store a NUL in text (it would answer 500 on a household's note) and
nothing legitimate carries one, so :func:`refuse_nul` turns it away before any route
runs, on every database alike. It is the one place for it: an application-wide
dependency (``create_app``), so it covers every JSON body whatever its model (the
request models do not share one base: several routes declare their own), every query
parameter and every path parameter. A body is checked only where the route takes a
JSON body; FastAPI has parsed it already (the parse is cached on the request). Raw
uploads check their own bytes (:mod:`cloud.onboarding` refuses a NUL in a CSV).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

NUL = "\x00"
MESSAGE = "must not contain a NUL character (U+0000)"


def nul_paths(value: Any, at: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
    """Where in a parsed JSON value a string (or an object's key) holds a NUL."""
    if isinstance(value, str):
        if NUL in value:
            yield at
    elif isinstance(value, dict):
        for key, item in value.items():
            if NUL in str(key):
                yield (*at, str(key))
            else:
                yield from nul_paths(item, (*at, str(key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from nul_paths(item, (*at, i))


async def refuse_nul(request: Request) -> None:
    """Raise a validation error (422) for each query, path or body field holding a NUL."""
    found: list[tuple[str | int, ...]] = [
        ("query", name) for name, v in request.query_params.multi_items() if NUL in name + v
    ]
    found += [("path", name) for name, v in request.path_params.items() if NUL in str(v)]
    route = request.scope.get("route")
    if isinstance(route, APIRoute) and route.body_field is not None:
        try:
            body = await request.json()  # parsed by FastAPI already: cached on the request
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
            body = None  # not JSON: FastAPI answers that itself
        found += list(nul_paths(body, ("body",)))
    if found:
        raise RequestValidationError(
            [{"type": "nul_character", "loc": loc, "msg": MESSAGE, "input": None} for loc in found]
        )
