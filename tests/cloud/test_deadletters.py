"""Dead letters: kept with reason and bounded raw bytes, counted, pruned."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from cloud.deadletters import (
    add_dead_letter,
    counts_by_reason,
    list_dead_letters,
    prune_dead_letters,
)
from cloud.models import MAX_KEPT_PAYLOAD
from tests.cloud.factories import T0

pytestmark = pytest.mark.integration


def test_counted_by_reason_bounded_and_pruned(session: Session) -> None:
    topic = "salinmas/v1/dev/st-x/weighin"
    later = T0 + timedelta(days=40)
    add_dead_letter(
        session, topic=topic, payload=b"{", reason="malformed", detail="x", received_at=T0
    )
    add_dead_letter(
        session, topic=topic, payload=b"[]", reason="malformed", detail="y", received_at=later
    )
    big = b"a" * (MAX_KEPT_PAYLOAD + 5)
    huge = add_dead_letter(
        session, topic=topic, payload=big, reason="oversize", detail="z", received_at=later
    )
    session.commit()
    assert counts_by_reason(session) == {"malformed": 2, "oversize": 1}
    assert counts_by_reason(session, since=T0 + timedelta(days=1)) == {
        "malformed": 1,
        "oversize": 1,
    }
    assert len(huge.payload) == MAX_KEPT_PAYLOAD
    assert huge.truncated
    assert huge.payload_size == MAX_KEPT_PAYLOAD + 5
    assert [d.detail for d in list_dead_letters(session, reason="malformed")] == ["y", "x"]
    assert prune_dead_letters(session, older_than=T0 + timedelta(days=30)) == 1
    session.commit()
    assert counts_by_reason(session) == {"malformed": 1, "oversize": 1}
