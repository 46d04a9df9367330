"""The ingest's own line-protocol writer equals influxdb-client's ``Point``, byte for byte."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cloud.telemetry import TelemetryPoint
from cloud.telemetry.influx import to_line, to_line_reference

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
