"""Offset pagination for the list routes that show a page and a total (admin screens).

A route declares ``page: PageQuery`` and answers ``Page[ItemOut]``::

    rows, total = paginate(session, select(Household).order_by(Household.member_no), page)
    return Page(items=[HouseholdOut.model_validate(h) for h in rows], total=total,
                limit=page.limit, offset=page.offset)

The live lists of the operator page keep their keyset paging (``before_id``,
:mod:`cloud.api.deps`); these are for tables a person pages through.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, and_, func, select
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


# ---------------------------------------------------------------- the operational lists
#
# GET /bins, /pickups, /weighins and /devices answered bare lists long before the screens
# paged (the edge simulators, scripts and tests still call them that way). They keep that
# answer while the caller gives no ``offset``; with ``offset`` (0 for the first page) they
# answer a :class:`Page` whose total is capped (:func:`paginate_capped`).

#: most rows of one page
PAGE_MAX = 500


@dataclass(frozen=True, slots=True)
class ListParams:
    """``limit`` and ``offset`` as given (None: not given)."""

    limit: int | None
    offset: int | None

    @property
    def paged(self) -> bool:
        return self.offset is not None


def _list(
    limit: Annotated[int | None, Query(ge=1, le=1000, description="most rows returned")] = None,
    offset: Annotated[
        int | None,
        Query(
            ge=0,
            le=10_000_000,
            description="rows skipped: given (0 for the first page), the answer is a page "
            "{items, total, total_exact, limit, offset} of at most 500 rows; without it, the "
            "bare list of the first `limit` rows (the older shape)",
        ),
    ] = None,
) -> ListParams:
    if offset is not None and limit is not None and limit > PAGE_MAX:
        raise RequestValidationError(
            [
                {
                    "type": "less_than_equal",
                    "loc": ("query", "limit"),
                    "msg": f"a page holds at most {PAGE_MAX} rows",
                    "input": limit,
                }
            ]
        )
    return ListParams(limit, offset)


ListQuery = Annotated[ListParams, Depends(_list)]


def listed(
    session: Session,
    stmt: Select[Any],
    params: ListParams,
    convert: Callable[[list[Any]], list[T]],
    *,
    cap: int,
    default_limit: int | None,
    page_limit: int = 50,
) -> Page[T] | list[T]:
    """``stmt`` (with its ORDER BY) as a page counted up to ``cap`` when ``params`` asks for
    one, else as the older bare list of ``limit`` (or ``default_limit``; None: all) rows."""
    if not params.paged:
        limit = params.limit or default_limit
        return convert(list(session.scalars(stmt if limit is None else stmt.limit(limit))))
    page = PageParams(params.limit or page_limit, params.offset or 0)
    rows, total, exact = paginate_capped(session, stmt, page, cap)
    return Page[T](
        items=convert(rows), total=total, limit=page.limit, offset=page.offset, total_exact=exact
    )


@dataclass(frozen=True, slots=True)
class Area:
    """A map's visible area (WGS 84 degrees): rows whose point lies inside."""

    south: float
    west: float
    north: float
    east: float

    def where(self, lat: Any, lon: Any) -> ColumnElement[bool]:
        return and_(lat >= self.south, lat <= self.north, lon >= self.west, lon <= self.east)


def _area(
    bbox: Annotated[
        str | None,
        Query(
            max_length=100,
            pattern=r"^-?\d{1,3}(\.\d+)?(,-?\d{1,3}(\.\d+)?){3}$",
            description="the map's visible area: south,west,north,east (degrees)",
            examples=["-7.6,109.1,-7.3,109.4"],
        ),
    ] = None,
) -> Area | None:
    if bbox is None:
        return None
    south, west, north, east = (float(x) for x in bbox.split(","))
    if not (-90 <= south <= north <= 90 and -180 <= west <= east <= 180):
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("query", "bbox"),
                    "msg": "south <= north within ±90, west <= east within ±180",
                    "input": bbox,
                }
            ]
        )
    return Area(south, west, north, east)


AreaQuery = Annotated[Area | None, Depends(_area)]
