"""Problem details (RFC 9457) for every error the API returns.

Body (``application/problem+json``)::

    {"type": "https://salinmas.org/problems/validation", "title": "Invalid request",
     "status": 422, "detail": "1 field is invalid",
     "errors": [{"field": "body.amount_rp", "message": "Input should be greater than 0"}]}

Domain exceptions map to status codes here, once: :class:`~cloud.errors.NotFound` 404,
a domain error naming a field 422, any other domain rule 409, bad credentials 401,
the login throttle 429 with ``Retry-After``. A client's mistake never yields a 5xx.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from cloud.api.fastread import DatabaseUnavailable
from cloud.api.scope import OutOfReach
from cloud.auth import AuthError, InvalidInput, Throttled
from cloud.errors import LedgerError, NotFound

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://salinmas.org/problems/"
PROBLEM_JSON = "application/problem+json"


class FieldError(BaseModel):
    field: str = Field(examples=["body.amount_rp"])
    message: str = Field(examples=["Input should be greater than 0"])


class Problem(BaseModel):
    """An error, as ``application/problem+json``."""

    type: str = Field(examples=[PROBLEM_BASE + "validation"])
    title: str = Field(examples=["Invalid request"])
    status: int = Field(examples=[422])
    detail: str = Field(examples=["1 field is invalid"])
    errors: list[FieldError] = Field(default_factory=list)


class ApiError(Exception):
    """Raise from a route for a problem response (``slug`` names the problem type)."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        *,
        title: str | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.slug, self.detail = status, slug, detail
        self.title = title or slug.replace("-", " ").capitalize()
        self.errors = errors or []
        self.headers = headers


def problem(
    status: int,
    slug: str,
    detail: str,
    *,
    title: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=PROBLEM_BASE + slug,
        title=title or slug.replace("-", " ").capitalize(),
        status=status,
        detail=detail,
        errors=errors or [],
    )
    return JSONResponse(
        body.model_dump(), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def _loc(loc: Any) -> str:
    return ".".join(str(p) for p in loc) if isinstance(loc, list | tuple) else str(loc)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every exception into a problem body."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return problem(
            exc.status,
            exc.slug,
            exc.detail,
            title=exc.title,
            errors=exc.errors,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            FieldError(field=_loc(e.get("loc", ())), message=str(e.get("msg", "")))
            for e in exc.errors()
        ]
        n = len(errors)
        return problem(
            422,
            "validation",
            f"{n} field{'s are' if n != 1 else ' is'} invalid",
            title="Invalid request",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = {401: "unauthorized", 403: "forbidden", 404: "not-found", 405: "method-not-allowed"}
        headers = dict(exc.headers) if exc.headers else None
        return problem(
            exc.status_code,
            slug.get(exc.status_code, "http-error"),
            str(exc.detail),
            headers=headers,
        )

    @app.exception_handler(Throttled)
    async def _throttled(_: Request, exc: Throttled) -> JSONResponse:
        return problem(
            429,
            "too-many-logins",
            str(exc),
            title="Too many failed logins",
            headers={"Retry-After": str(exc.retry_after_s)},
        )

    @app.exception_handler(AuthError)
    async def _auth(_: Request, exc: AuthError) -> JSONResponse:
        return problem(
            401,
            "unauthorized",
            str(exc),
            title="Not authenticated",
            headers={"WWW-Authenticate": "Bearer"},
        )

    @app.exception_handler(InvalidInput)
    async def _invalid(_: Request, exc: InvalidInput) -> JSONResponse:
        return problem(
            422,
            "validation",
            str(exc),
            title="Invalid request",
            errors=[FieldError(field=f"body.{exc.field}", message=str(exc))],
        )

    @app.exception_handler(OutOfReach)
    async def _out_of_reach(_: Request, exc: OutOfReach) -> JSONResponse:
        return problem(404, "not-found", "no such object (or not yours)", title="Not found")

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return problem(404, "not-found", str(exc), title="Not found")

    @app.exception_handler(LedgerError)
    async def _domain(_: Request, exc: LedgerError) -> JSONResponse:
        field = getattr(exc, "field", None)
        if field:
            return problem(
                422,
                "rule-violated",
                str(exc),
                title="Refused by a business rule",
                errors=[FieldError(field=f"body.{field}", message=str(exc))],
            )
        return problem(409, "conflict", str(exc), title="Conflicts with the current state")

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        log.info("integrity error mapped to 409: %s", exc.orig)
        return problem(
            409,
            "conflict",
            "conflicts with existing data (duplicate or missing reference)",
            title="Conflicts with the current state",
        )

    retry_after = {"Retry-After": str(getattr(app.state, "retry_after_s", 1))}

    @app.exception_handler(PoolTimeout)
    async def _pool_timeout(_: Request, exc: PoolTimeout) -> JSONResponse:
        log.warning("no database connection came free in time: %s", exc)
        return problem(
            503,
            "overloaded",
            "the API is busy; retry after the given seconds",
            title="Overloaded",
            headers=retry_after,
        )

    def unavailable(why: object) -> JSONResponse:
        # connection lost (database restart), lock wait timed out, server shutting down
        log.warning("database unavailable: %s", why)
        return problem(
            503,
            "database-unavailable",
            "the database is unavailable; retry",
            title="Database unavailable",
            headers=retry_after,
        )

    @app.exception_handler(OperationalError)
    async def _db_unavailable(_: Request, exc: OperationalError) -> JSONResponse:
        return unavailable(exc.orig)

    @app.exception_handler(DatabaseUnavailable)
    async def _hot_read_unavailable(_: Request, exc: DatabaseUnavailable) -> JSONResponse:
        return unavailable(exc)  # the API's own hot reads (cloud.api.fastread)

    @app.exception_handler(DBAPIError)
    async def _db_error(request: Request, exc: DBAPIError) -> JSONResponse:
        if exc.connection_invalidated:
            return await _db_unavailable(request, exc)  # type: ignore[arg-type]
        log.exception("database error", exc_info=exc)
        return problem(500, "internal", "an internal error occurred; it has been logged")

    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return problem(500, "internal", "an internal error occurred; it has been logged")


#: OpenAPI ``responses=`` entries for the errors most routes can return
def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    desc = {
        401: "Not authenticated (missing, invalid or expired token)",
        403: "Authenticated, but this role may not do this",
        404: "Not found (or not yours)",
        409: "Conflicts with the current state",
        422: "Invalid input; `errors` names each field at fault",
        429: "Too many failed logins; see Retry-After",
        503: "Busy or a backing service is unavailable; see Retry-After",
    }
    return {
        c: {"model": Problem, "description": desc[c], "content": {PROBLEM_JSON: {}}} for c in codes
    }
