"""``Idempotency-Key`` for money-moving POSTs: a retried request never moves money twice.

The first request with a key runs, and its response is stored in the same transaction
as its effects (``idempotency_keys``, unique per caller and key). A later request with
the same key and the same method, path and body gets the stored response (status and
body, byte for byte) and changes nothing; the same key with a different request is
refused with 422. Two concurrent first requests with one key: the unique constraint
lets one commit; the other's transaction (effects included) rolls back and it answers
with the winner's stored response.

Only successful responses are stored: a refused request (4xx) may be retried with the
same key once the cause is fixed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Header, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.api.deps import Principal
from cloud.api.errors import ApiError, FieldError
from cloud.models.money import IdempotencyRecord

M = TypeVar("M", bound=BaseModel)

IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=8,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="a unique key per intended operation (e.g. a UUID); retries reuse it",
        examples=["5f0c6c1e-2b7a-4d8e-9a51-0d2f5f3b8c11"],
    ),
]


def _fingerprint(method: str, path: str, body: BaseModel | None) -> str:
    payload = body.model_dump(mode="json") if body is not None else None
    raw = json.dumps([method, path, payload], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


def _replay(rec: IdempotencyRecord, fingerprint: str) -> Response:
    if rec.request_hash != fingerprint:
        raise ApiError(
            422,
            "idempotency-key-reused",
            "this Idempotency-Key was already used for a different request",
            title="Idempotency-Key reused",
            errors=[FieldError(field="header.Idempotency-Key", message="used for another request")],
        )
    return Response(
        rec.response_body,
        status_code=rec.status_code,
        media_type="application/json",
        headers={"Idempotent-Replayed": "true"},
    )


def idempotent(
    session: Session,
    request: Request,
    principal: Principal,
    key: str,
    body: BaseModel | None,
    action: Callable[[], M],
    *,
    status_code: int = 200,
) -> Response:
    """Run ``action`` once per (caller, key); commit its effects with the stored response."""
    fp = _fingerprint(request.method, request.url.path, body)
    who = principal.label[:80]
    found = session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.principal == who, IdempotencyRecord.key == key
        )
    )
    if found is not None:
        return _replay(found, fp)
    result = action()
    text = result.model_dump_json()
    session.add(
        IdempotencyRecord(
            principal=who,
            key=key,
            method=request.method,
            path=request.url.path[:300],
            request_hash=fp,
            status_code=status_code,
            response_body=text,
        )
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        winner = session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.principal == who, IdempotencyRecord.key == key
            )
        )
        if winner is None:
            raise
        return _replay(winner, fp)
    return Response(text, status_code=status_code, media_type="application/json")
