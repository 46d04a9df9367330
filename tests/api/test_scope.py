"""The rule of reach itself (cloud/api/scope.py), below the routes: reads and writes.

The role matrix (test_role_matrix.py) drives it through every route; these tests hit
the parts the routes' own checks would otherwise hide: a write that lands a row outside
the caller's site, a session without a scope, an auditor on a write route that forgot
its role rule.

Mutants (applied by hand, each fails a test here):
  mutant: Scope.places ignores the site (``or obj.site_id != self.site_id`` removed)
          -> an operator's household lands in site 2 -> fails
  mutant: Scope.places lets anyone create a Site (``isinstance(obj, Site)`` branch
          returns True) -> fails
  mutant: Scope.places skips the household check of new rows -> a card is linked to
          another site's household -> fails
  mutant: scope_of returns SYSTEM when a session has no scope (fail open) -> fails
  mutant: the options kept per role instead of per scope -> the second operator (or
          household) sees the first one's rows -> fails
  mutant: get_session lets the auditor write -> the forgetful route answers 200 -> fails
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud import corrections, households
from cloud.api import scope as scope_mod
from cloud.api.deps import SessionDep
from cloud.api.scope import SYSTEM, OutOfReach, Scope
from cloud.db import make_engine, session_factory
from cloud.errors import NotFound
from cloud.models import Household, MemberCard, Site
from tests.api.support import World, login, serve, settings_for

pytestmark = pytest.mark.integration


@pytest.fixture
def scoped(sqlite_url: str, world_sqlite: World) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(sqlite_url)
    maker = session_factory(engine)
    scope_mod.install(maker)
    yield maker
    engine.dispose()


def operator_of(world: World) -> Scope:
    return Scope("operator", site_id=world.ids["site"], user_id=world.ids["operator"])


def test_rows_land_only_in_the_callers_site(
    scoped: sessionmaker[Session], world_sqlite: World
) -> None:
    w = world_sqlite
    op = operator_of(w)
    with scoped(info={"scope": op}) as s:  # its own site: fine
        hh = households.register_household(s, member_no="M-OWN", name="Own", site="bank01")
        assert hh.site_id == w.ids["site"]
        s.rollback()
    with scoped(info={"scope": op}) as s, pytest.raises(OutOfReach):
        households.register_household(s, member_no="M-NOWHERE", name="No site")  # no site
    with scoped(info={"scope": op}) as s:
        hh = s.get(Household, w.ids["household-a"])
        assert hh is not None
        hh.site_id = w.ids["site-2"]  # moving its household to site 2
        with pytest.raises(OutOfReach):
            s.flush()
    with scoped(info={"scope": op}) as s:
        s.add(Site(code="bank99", name="New"))  # only the administrator creates sites
        with pytest.raises(OutOfReach):
            s.flush()
    with scoped(info={"scope": op}) as s:
        # a card linked to site 2's household, added straight to the session
        s.add(MemberCard(card_id="CARD-X", household_id=w.ids["household-c"], active=True))
        with pytest.raises(OutOfReach):
            s.flush()
    with scoped(info={"scope": SYSTEM}) as s:  # nothing moved
        assert s.get(Household, w.ids["household-a"]).site_id == w.ids["site"]  # type: ignore[union-attr]
        assert s.scalar(select(Site.id).where(Site.code == "bank99")) is None


def test_reads_see_only_the_reach(scoped: sessionmaker[Session], world_sqlite: World) -> None:
    w = world_sqlite
    with scoped(info={"scope": operator_of(w)}) as s:
        assert s.get(Household, w.ids["household-c"]) is None
        assert set(s.scalars(select(Site.code))) == {"bank01"}
        with pytest.raises(NotFound):  # site 2's unassigned weigh-in does not exist
            corrections.assign_weighin(
                s,
                weighin_id=w.ids["weighin-unassigned-2"],
                household_id=w.ids["household-a"],
                by="t",
            )
    household = Scope("household", site_id=w.ids["site"], household_id=w.ids["household-a"])
    with scoped(info={"scope": household}) as s:
        assert set(s.scalars(select(Household.id))) == {w.ids["household-a"]}


def test_each_caller_of_a_role_keeps_its_own_reach(
    scoped: sessionmaker[Session], world_sqlite: World
) -> None:
    """The options are kept per scope (a frozen value): two operators of two sites, and
    two households, take turns, and each sees its own rows only, every time."""
    w = world_sqlite
    sites = {w.ids["site"]: "bank01", w.ids["site-2"]: "bank02"}
    staff = {
        code: Scope("operator", site_id=site_id, user_id=w.ids["operator"])
        for site_id, code in sites.items()
    }
    homes = {tag: w.ids[f"household-{tag}"] for tag in "abcd"}
    for _ in range(3):
        for code, op in staff.items():
            with scoped(info={"scope": op}) as s:
                assert set(s.scalars(select(Site.code))) == {code}
        for tag, hid in homes.items():
            home = Scope("household", site_id=w.ids["site"], household_id=hid)
            with scoped(info={"scope": home}) as s:
                assert set(s.scalars(select(Household.member_no))) == {f"M-{tag.upper()}"}
    assert (
        staff["bank01"].criteria()
        is Scope("operator", site_id=w.ids["site"], user_id=w.ids["operator"]).criteria()
    ), "equal scopes share their options"


def test_a_session_without_a_scope_is_refused(scoped: sessionmaker[Session]) -> None:
    with scoped() as s, pytest.raises(RuntimeError, match="without a scope"):
        s.scalars(select(Household)).all()


def test_the_auditor_never_writes_even_where_a_role_rule_is_missing(
    sqlite_url: str, world_sqlite: World, tmp_path: Path
) -> None:
    settings = settings_for(sqlite_url, tmp_path)
    from cloud.api.app import create_app

    app = create_app(settings)

    @app.post("/api/v1/forgetful", include_in_schema=False)
    def forgetful(session: SessionDep) -> dict[str, int]:  # no role rule at all
        return {"households": len(session.scalars(select(Household.id)).all())}

    app.router.routes.insert(0, app.router.routes.pop())  # before the dashboard's mount at /

    with serve(settings, app=app) as api, api.client() as c:
        auditor = login(c, "auditor")
        operator = login(c, "operator")
        r = c.post("/api/v1/forgetful", headers={"Authorization": f"Bearer {auditor}"})
        assert r.status_code == 403, r.text
        r = c.post("/api/v1/forgetful", headers={"Authorization": f"Bearer {operator}"})
        assert r.status_code == 200
        assert r.json() == {"households": 2}  # and only its site's
