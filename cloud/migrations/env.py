"""Alembic environment: run programmatically through :func:`cloud.db.migrate`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from cloud.db import make_engine
from cloud.models import Base, load_all

config = context.config
#: PostgreSQL advisory lock held while migrating
LOCK_KEY = 5_812_020_601
load_all()
target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database url: use cloud.db.migrate(url)")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
            )
            with context.begin_transaction():
                if connection.dialect.name == "postgresql":
                    # several processes may start at once (ingest workers, API): one
                    # migrates, the others wait and then find the schema at head
                    connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline migrations are not supported; use cloud.db.migrate(url)")
run_migrations_online()
