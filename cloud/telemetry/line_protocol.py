"""InfluxDB line protocol, written by hand (no client library at run time).

Byte for byte what influxdb-client's ``Point`` writes — its escaping rules are the line
protocol reference's — and checked against it by a property test
(``tests/cloud/test_line_protocol.py``, where influxdb-client is the oracle). Written
out because building a ``Point`` costs ~8 us per point, a large share of the ingest's
per-message budget.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from cloud.telemetry.base import FieldValue, TelemetryPoint

_ESC_MEASUREMENT = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"})
_ESC_KEY = str.maketrans(
    {",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"}
)
_ESC_STRING = str.maketrans({'"': r"\"", "\\": r"\\"})


def _field(key: str, v: FieldValue) -> str | None:
    k = key.translate(_ESC_KEY)
    if v.__class__ is bool:
        return f"{k}={'true' if v else 'false'}"
    if isinstance(v, int):
        return f"{k}={v}i"
    if isinstance(v, float):
        if not math.isfinite(v):
            return None
        s = str(v)
        return f"{k}={s[:-2] if s.endswith('.0') else s}"
    return f'{k}="{str(v).translate(_ESC_STRING)}"'


#: escaped "measurement,tag=value,..." per (measurement, tags): a fleet has few series
_PREFIXES: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}


def _prefix(measurement: str, tags: Mapping[str, str]) -> str:
    key = (measurement, tuple(tags.items()))
    hit = _PREFIXES.get(key)
    if hit is None:
        parts = [measurement.translate(_ESC_MEASUREMENT)]
        for k in sorted(tags):
            v = tags[k]
            if not k or not v:
                continue
            tv = v.translate(_ESC_KEY)
            if tv.endswith("\\"):
                tv += " "
            parts.append(f"{k.translate(_ESC_KEY)}={tv}")
        hit = ",".join(parts)
        if len(_PREFIXES) >= 100_000:  # bounded whatever the tags
            _PREFIXES.clear()
        _PREFIXES[key] = hit
    return hit


def to_line(p: TelemetryPoint) -> str:
    """One point as a line ("" if no field has a value the protocol can carry)."""
    fields = [f for f in (_field(k, p.fields[k]) for k in sorted(p.fields)) if f is not None]
    if not fields:
        return ""
    return f"{_prefix(p.measurement, p.tags)} {','.join(fields)} {p.ts_ns}"
