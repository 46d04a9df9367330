"""Offset pagination for the list routes that show a page and a total (admin screens).

A route declares ``page: PageQuery`` and answers ``Page[ItemOut]``::

    rows, total = paginate(session, select(Household).order_by(Household.member_no), page)
    return Page(items=[HouseholdOut.model_validate(h) for h in rows], total=total,
                limit=page.limit, offset=page.offset)

The live lists of the operator page keep their keyset paging (``before_id``,
:mod:`cloud.api.deps`); these are for tables a person pages through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int
    offset: int


def _page(
    limit: Annotated[int, Query(ge=1, le=500, description="rows per page")] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="rows skipped")] = 0,
) -> PageParams:
    return PageParams(limit, offset)


PageQuery = Annotated[PageParams, Depends(_page)]


def paginate(session: Session, stmt: Select[Any], page: PageParams) -> tuple[list[Any], int]:
    """One page of ``stmt`` (which carries its ORDER BY) and the count of all its rows."""
    total = int(
        session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    )
    rows = list(session.scalars(stmt.limit(page.limit).offset(page.offset)))
    return rows, total
