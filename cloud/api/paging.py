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
    #: False: ``total`` is a lower bound ("more than"), counted no further (see
    #: :func:`paginate_capped`)
    total_exact: bool = True


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


def capped_window(page: PageParams, cap: int) -> int:
    """How many rows a capped count reads: ``cap``, or as far as the page asked for."""
    return max(cap, page.offset + page.limit)


def paginate_capped(
    session: Session, stmt: Select[Any], page: PageParams, cap: int
) -> tuple[list[Any], int, bool]:
    """Like :func:`paginate`, but counts no further than ``cap`` rows (or the end of the
    page asked for, if further): ``(rows, total, exact)``; when more rows match, ``total``
    is that bound and ``exact`` is False. For searches over many rows, where an exact
    count of a common match costs more than the page itself."""
    window = capped_window(page, cap)
    counted = int(
        session.scalar(
            select(func.count()).select_from(stmt.order_by(None).limit(window + 1).subquery())
        )
        or 0
    )
    rows = list(session.scalars(stmt.limit(page.limit).offset(page.offset)))
    return rows, min(counted, window), counted <= window
