"""The ingest's own line-protocol writer equals influxdb-client's ``Point``, byte for byte.

influxdb-client is the oracle here (a development dependency); the ingest never imports it.

mutant: an int field written without its ``i`` suffix -> test_same_line_as_influxdb_client
mutant: a tag value ending in a backslash left as it is -> test_same_line_as_influxdb_client
"""

from __future__ import annotations

from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st
from influxdb_client.client.write.point import Point
from influxdb_client.domain.write_precision import WritePrecision

from cloud.telemetry import TelemetryPoint
from cloud.telemetry.line_protocol import to_line


def to_line_reference(p: TelemetryPoint) -> str:
    """The same line through influxdb-client's ``Point``."""
    pt: Any = Point(p.measurement)
    for k, v in sorted(p.tags.items()):
        pt = pt.tag(k, v)
    for k, fv in p.fields.items():
        pt = pt.field(k, fv)
    line: str = pt.time(p.ts_ns, WritePrecision.NS).to_line_protocol()
    return line


_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",))
    | st.sampled_from(list(',= "\\\n\t\r')),
    max_size=12,
)
_key = _text.filter(bool)
_value = (
    st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=True, allow_infinity=True)
    | _text
)


@given(
    measurement=_key.filter(lambda m: not m.startswith("#")),
    tags=st.dictionaries(_key, _text, max_size=4),
    fields=st.dictionaries(_key, _value, max_size=5),
    ts=st.integers(min_value=0, max_value=2**62),
)
@example(measurement="m", tags={"t": "a\\"}, fields={"f": 1}, ts=5)  # a trailing backslash
def test_same_line_as_influxdb_client(
    measurement: str, tags: dict[str, str], fields: dict[str, object], ts: int
) -> None:
    p = TelemetryPoint(measurement, tags, fields, ts)  # type: ignore[arg-type]
    assert to_line(p) == to_line_reference(p)


def test_a_fill_line_reads_as_expected() -> None:
    p = TelemetryPoint(
        "fill",
        {"device": "bin 1", "site": "a,b", "bin": "x=y"},
        {"fill_pct": 42.0, "seq": 7, "lid_open": False, "fault": 'no "echo"'},
        1_700_000_000_000_000_007,
    )
    assert to_line(p) == (
        r"fill,bin=x\=y,device=bin\ 1,site=a\,b "
        r'fault="no \"echo\"",fill_pct=42,lid_open=false,seq=7i 1700000000000000007'
    )
