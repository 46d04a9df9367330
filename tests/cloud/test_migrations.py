"""The migrated schema equals the ORM models (drift is caught), on both databases."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from cloud.db import current_revision, downgrade, make_engine, migrate
from cloud.models import Base, load_all

pytestmark = pytest.mark.integration


def test_migrated_schema_matches_models(ledger_url: str) -> None:
    load_all()
    migrate(ledger_url)
    engine = make_engine(ledger_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []
    assert current_revision(ledger_url) is not None


def test_migrate_is_repeatable_and_reversible(ledger_url: str) -> None:
    migrate(ledger_url)
    head = current_revision(ledger_url)
    migrate(ledger_url)
    assert current_revision(ledger_url) == head
    downgrade(ledger_url, "base")
    assert current_revision(ledger_url) is None
    migrate(ledger_url)
    assert current_revision(ledger_url) == head
