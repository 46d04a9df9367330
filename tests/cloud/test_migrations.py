"""The migrated schema equals the ORM models (drift is caught), on both databases."""

from __future__ import annotations

import subprocess
import sys

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


def test_concurrent_migrations_on_a_fresh_database(ledger_url: str) -> None:
    """Processes starting together: one migrates, the others find the schema at head."""
    code = "import sys; from cloud.db import migrate; migrate(sys.argv[1])"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, ledger_url], stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errors
    assert current_revision(ledger_url) is not None
