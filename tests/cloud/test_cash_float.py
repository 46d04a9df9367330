"""Reading a collector's float writes nothing (both databases).

``GET /collectors/{id}/float`` runs in a read transaction; on SQLite a write there is
refused at once ("database is locked") when another write committed since it began, which
a browser test met under load. So reading a float never creates its account.

mutant: float_rp through collector_float_account again (get or create) -> an account row
        appears on read -> fails
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud import cash_float
from cloud.models import Account


def test_reading_a_float_creates_nothing_and_reads_what_was_handed(session: Session) -> None:
    accounts = select(func.count()).select_from(Account)
    before = session.scalar(accounts)
    assert cash_float.float_rp(session, collector_id=4242) == 0
    assert not session.new
    session.flush()
    assert session.scalar(accounts) == before

    cash_float.issue_float(session, collector_id=4242, amount_rp=50_000, by="test")
    session.flush()
    assert cash_float.float_rp(session, collector_id=4242) == 50_000
    assert cash_float.float_rp(session, collector_id=4243) == 0  # another collector's: none
