"""Development's trust on first use raises no alert for a new station (a fresh demo showed
ten red ones); a change after that, and anything not trusted automatically, still does.

mutant: announce_key alerting on the first-use path again -> the new station has an alert.
mutant: note_build returning without an alert for a changed configuration -> the change
        goes unseen, fails.
mutant: trust_first_use ignored in note_build (alert always) -> fails on the new station.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.devicekeys import announce_key, approved_digests, note_build
from cloud.households import ensure_site
from cloud.models import Alert, Device

pytestmark = pytest.mark.integration


def station(session: Session, device_id: str) -> None:
    site = ensure_site(session, code="bank01", name="Bank Sampah 01")
    session.add(Device(device_id=device_id, kind="station", site_id=site.id, revoked=False))
    session.flush()


def alerts(session: Session) -> list[tuple[str, str]]:
    return [(a.kind, a.message) for a in session.scalars(select(Alert).order_by(Alert.id))]


def test_a_new_station_is_trusted_quietly_and_a_change_is_told(session: Session) -> None:
    station(session, "st-new")
    key = announce_key(session, device_id="st-new", public_key="ab" * 32, trust_first_use=True)
    assert key is not None
    assert key.status == "approved"
    note_build(
        session, device_id="st-new", sw_hash="a" * 64, config_hash="b" * 64, trust_first_use=True
    )
    assert len(approved_digests(session, ["st-new"])) == 2
    assert alerts(session) == []
    note_build(
        session, device_id="st-new", sw_hash="a" * 64, config_hash="c" * 64, trust_first_use=True
    )
    assert [k for k, _ in alerts(session)] == ["device_config"]
    assert "changed, approved automatically" in alerts(session)[0][1]


def test_without_trust_on_first_use_every_new_key_and_build_is_alerted(
    session: Session,
) -> None:
    station(session, "st-prod")
    key = announce_key(session, device_id="st-prod", public_key="cd" * 32, trust_first_use=False)
    assert key is not None
    assert key.status == "pending"
    note_build(
        session, device_id="st-prod", sw_hash="a" * 64, config_hash="b" * 64, trust_first_use=False
    )
    assert [k for k, _ in alerts(session)] == ["device_key", "device_config"]
