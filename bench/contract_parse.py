"""What strict parsing costs per message: ``python -m bench.contract_parse [--n N]``.

Times :func:`contract.models.parse_payload` on the bench stream's fill and weigh-in
payloads against what it did before the contract was made strict (a lax
``model_validate_json``), and the parts of the duplicate-key defence: the quote count
every message pays, and the exact re-parse (``json.loads`` with ``object_pairs_hook``)
that only a payload with a repeated key or an escaped quote pays. Best of 5 runs of N
calls each, in microseconds of CPU time per message; one process, so the figures compare
with each other even on a busy machine (their absolute values less so).
"""

from __future__ import annotations

import argparse
import json
import time
import timeit
from collections.abc import Callable

from bench.stream import EventEncoder, fleet_ids
from contract.models import _refuse_duplicate_keys, _strings_in, model_for, parse_payload


def _per_call_us(fn: Callable[[], object], n: int) -> float:
    # CPU time of this process, not wall time: other processes on the host inflate it less
    return min(timeit.repeat(fn, number=n, repeat=5, timer=time.process_time)) / n * 1e6


def _keep_pairs(pairs: list[tuple[str, object]]) -> dict[str, object]:
    return dict(pairs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50_000, help="calls per timing run")
    n = ap.parse_args().n
    t = time.time()
    print(
        f"{'payload':10} {'bytes':>5}  {'lax (before)':>12} {'strict':>8} {'parse_payload':>13} "
        f"{'quote count':>11} {'re-parse':>8}  us per message"
    )
    for kind in ("fill", "weighin"):
        raw = EventEncoder(kind, fleet_ids(kind, 1), seq_base=0).encode(0, t)
        model = model_for(kind)
        parsed = parse_payload(kind, raw)
        figures = [
            _per_call_us(lambda: model.model_validate_json(raw), n),  # noqa: B023
            _per_call_us(lambda: model.model_validate_json(raw, strict=True), n),  # noqa: B023
            _per_call_us(lambda: parse_payload(kind, raw), n),  # noqa: B023
            _per_call_us(
                lambda: raw.count(b'"') == 2 * (len(parsed.model_fields_set) + _strings_in(parsed)),  # noqa: B023
                n,
            ),
            _per_call_us(lambda: json.loads(raw, object_pairs_hook=_keep_pairs), n),  # noqa: B023
        ]
        print(
            f"{kind:10} {len(raw):5}  "
            + " ".join(f"{f:>{w}.2f}" for f, w in zip(figures, (12, 8, 13, 11, 8), strict=True))
        )
    dup = b'{"a":1,"a":2}'
    try:
        _refuse_duplicate_keys(dup)
    except ValueError as exc:
        print(f"(a repeated key is refused: {exc})")


if __name__ == "__main__":
    main()
