"""The API reads telemetry through a reader: no write buffer of its own, closed at shutdown.

mutant: the API opening a writer (buffer file) for InfluxDB again -> the buffer exists
mutant: the lifespan not closing the reader -> ``closed`` / ``is_closed`` stays False
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud.telemetry.influx_reader import InfluxReader
from cloud.telemetry.sqlite import SqliteReader
from tests.api.support import serve, settings_for
from tests.support.services import free_port


@pytest.mark.parametrize("backend", ["sqlite", "influx"])
def test_the_reader_has_no_buffer_and_is_closed_at_shutdown(
    sqlite_url: str, tmp_path: Path, backend: str
) -> None:
    buffer = tmp_path / "telemetry-buffer.db"
    telemetry = {
        "backend": backend,
        "sqlite_path": str(tmp_path / "telemetry.db"),
        # nothing listens there: a reader connects only when asked
        "influx_url": f"http://127.0.0.1:{free_port()}",
        "buffer_path": str(buffer),
    }
    with serve(settings_for(sqlite_url, tmp_path, telemetry=telemetry)) as api:
        reader = api.app.state.api.telemetry
        if backend == "sqlite":
            assert isinstance(reader, SqliteReader)
            assert reader.count("fill") == 0  # opens the file
        else:
            assert isinstance(reader, InfluxReader)
    assert not buffer.exists()
    if isinstance(reader, SqliteReader):
        assert reader.closed
    else:
        assert reader.conn.http.is_closed
