"""The live hub streams every ledger row written after a client subscribed."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cloud.api.live import LiveHub
from cloud.db import make_engine, migrate, session_factory
from cloud.deadletters import add_dead_letter


def test_rows_written_right_after_subscribing_are_streamed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    migrate(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    with sessions() as s, s.begin():  # history from before the subscription: not streamed
        add_dead_letter(s, topic="x/old", payload=b"{", reason="malformed", detail="old")

    async def scenario() -> list[str]:
        hub = LiveHub(sessions, poll_s=0.5)
        await hub.start()
        try:
            q = await hub.subscribe()
            # written before the poller's first tick after the subscription
            with sessions() as s, s.begin():
                add_dead_letter(s, topic="x/new", payload=b"{", reason="malformed", detail="new")
            event = await asyncio.wait_for(q.get(), timeout=10)
            return [event.type, event.data["topic"]]
        finally:
            await hub.stop()

    try:
        assert asyncio.run(scenario()) == ["dead_letter", "x/new"]
    finally:
        engine.dispose()
