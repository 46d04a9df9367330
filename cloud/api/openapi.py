"""The OpenAPI document, finished in one place.

FastAPI documents its own validation errors as ``application/json``
``HTTPValidationError``; this API answers every error as ``application/problem+json``
:class:`~cloud.api.errors.Problem`. :func:`install` rewrites the generated document so
that every error response of every operation says so, and adds the errors any
operation can return (400 malformed body, 422 invalid input; 401/403 when it needs a
token), so clients and schemathesis see exactly what the server sends.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from cloud.api.errors import PROBLEM_JSON

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
COMMON = {
    "400": "Malformed request (e.g. a body that is not JSON)",
    "422": "Invalid input; `errors` names each field at fault",
}
AUTHED = {
    "401": "Not authenticated (missing, invalid or expired token)",
    "403": "Authenticated, but this role may not do this",
}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}}}


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
        for ops in doc.get("paths", {}).values():
            for op in ops.values():
                responses: dict[str, Any] = op.setdefault("responses", {})
                extra = dict(COMMON)
                if op.get("security"):
                    extra |= AUTHED
                for code, desc in extra.items():
                    responses.setdefault(code, _problem(desc))
                for code, resp in responses.items():
                    if code.isdigit() and int(code) >= 400:
                        resp["content"] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
        schemas = doc.get("components", {}).get("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
