"""The integrity routes: held weigh-ins for operators, station keys and approvals, the
public verification of a receipt's code (no login, rate-limited, nothing personal), and a
household opening its own weigh-in record with frames.

mutant: the public route answers differently for a malformed and an unknown code -> test_public
mutant: RateLimit.allow always True -> test_public_verification...
mutant: scope.py: a household reaches any WeighinRecord (c.id > 0) -> test_a_household_opens...
mutant: holds.release credits without the operator's note -> test_operators_release...
mutant: approve_key does not record who approved -> test_operators_release...
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cloud.api.routes import public
from cloud.db import make_engine, session_factory
from cloud.devicekeys import announce_key
from cloud.ingest import Processor
from cloud.models import WeighinRecord
from contract.codes import format_code
from tests.api.support import ApiServer, World, household_login, login
from tests.cloud.factories import weighin
from tests.cloud.signing_support import message

pytestmark = pytest.mark.integration


def _code(sqlite_url: str, weighin_id: int) -> str:
    engine = make_engine(sqlite_url)
    try:
        with session_factory(engine)() as s:
            rec = s.get(WeighinRecord, weighin_id)
            assert rec is not None
            assert rec.verify_code is not None
            return rec.verify_code
    finally:
        engine.dispose()


def test_public_verification_of_a_code(
    api: ApiServer, world: World, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = _code(sqlite_url, world.ids["weighin-a"])
    monkeypatch.setattr(public, "_limits", public.RateLimit(per_minute=6, overall=100))
    with api.client() as anon:
        r = anon.get(f"/api/v1/public/verify/{format_code(code).lower()}")
        assert r.status_code == 200
        body = r.json()
        assert (body["status"], body["net_g"], body["amount_rp"]) == ("credited", 1_250, 3_750)
        assert body["matches_ledger"] is True
        assert body["signed"] is False  # seeded through the unchecked path: unsigned
        assert not {"card_id", "household_id", "member_no", "name"} & body.keys()
        assert "CARD-A" not in r.text
        assert "M-A" not in r.text
        altered = code[:-1] + ("B" if code[-1] != "B" else "C")
        unknown = anon.get(f"/api/v1/public/verify/{altered}")
        malformed = anon.get("/api/v1/public/verify/not-a-code")
        assert unknown.status_code == malformed.status_code == 404
        assert unknown.json()["detail"] == malformed.json()["detail"] == "no such code"
        qr = anon.get(f"/api/v1/public/verify/{code}/qr.svg")
        assert qr.headers["content-type"].startswith("image/svg+xml")
        assert b'xmlns="http://www.w3.org/2000/svg"' in qr.content
        statuses = [anon.get(f"/api/v1/public/verify/{code}").status_code for _ in range(4)]
        assert statuses[-1] == 429  # six a minute per client, five used above
        assert "Retry-After" in anon.get(f"/api/v1/public/verify/{code}").headers


def test_a_household_opens_only_its_own_weighin_with_frames(api: ApiServer, world: World) -> None:
    wid = world.ids["weighin-a"]
    with api.client() as anon:
        own = household_login(anon, "M-A", world.pins["M-A"])
        other = household_login(anon, "M-B", world.pins["M-B"])
    with api.client(own) as c:
        r = c.get(f"/api/v1/weighins/{wid}")
        assert r.status_code == 200
        assert r.json()["frames"] == ["53205320202020312e323530206b670d0a"]
        assert r.json()["verify_code"]
        lines = c.get(f"/api/v1/households/{world.ids['household-a']}/statement").json()["lines"]
        assert all(line["weighin"]["verify_code"] for line in lines if line["weighin"])
    with api.client(other) as c:
        assert c.get(f"/api/v1/weighins/{wid}").status_code == 404


def test_operators_release_reject_and_approve(
    api: ApiServer, world: World, sqlite_url: str
) -> None:
    engine = make_engine(sqlite_url)
    p = Processor(session_factory(engine), None, enforce_integrity=True)
    p.process(
        [message(weighin(seq=s, card_id="CARD-B").model_dump_json().encode()) for s in (20, 21)]
    )
    with session_factory(engine)() as s:
        held = s.scalars(
            select(WeighinRecord.id)
            .where(WeighinRecord.status == "held")
            .order_by(WeighinRecord.id)
        ).all()
        announce_key(s, device_id="st-bank01", public_key="ab" * 32, trust_first_use=False)
        s.commit()
    engine.dispose()
    assert len(held) == 2
    with api.client() as anon:
        hh = household_login(anon, "M-B", world.pins["M-B"])
        op, admin = login(anon, "operator"), login(anon, "admin")
    with api.client(hh) as c:
        assert c.get("/api/v1/holds").status_code == 403
    with api.client(op) as c:
        [h1, _] = c.get("/api/v1/holds").json()
        assert (h1["kind"], h1["weighin"]["status"]) == ("unsigned", "held")
        assert c.post(f"/api/v1/holds/{held[0]}/release", json={"note": ""}).status_code == 422
        r = c.post(f"/api/v1/holds/{held[0]}/release", json={"note": "old station, checked"})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "credited"
        r = c.post(f"/api/v1/holds/{held[1]}/reject", json={"note": "no such bag"})
        assert r.json()["status"] == "rejected"
        assert c.post(f"/api/v1/holds/{held[1]}/release", json={"note": "again"}).status_code == 409
        assert c.get("/api/v1/holds").json() == []
        [key] = c.get("/api/v1/devices/st-bank01/keys").json()
        assert key["status"] == "pending"
        approve = f"/api/v1/devices/st-bank01/keys/{key['key_id']}/approve"
        assert c.post(approve).status_code == 403  # a station's trust is the administrator's
    with api.client(admin) as c:
        r = c.post(approve)
        assert (r.json()["status"], r.json()["approved_by"]) == ("approved", "user:admin")
        r = c.post(
            "/api/v1/devices/st-bank01/approvals", json={"kind": "config", "digest": "c" * 64}
        )
        assert r.status_code == 201
        assert r.json()["approved_by"] == "user:admin"
    balance = api.client(hh).get(f"/api/v1/households/{world.ids['household-b']}/balance").json()
    assert balance["balance_rp"] == 3_750  # the released one, once
