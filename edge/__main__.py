"""``python -m edge --config /etc/salinmas/station.toml`` — run the edge agent."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from edge import __version__


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m edge", description="Salinmas edge agent (scale station and/or bins)"
    )
    parser.add_argument(
        "--config",
        "-c",
        type=Path,
        help="TOML settings file with an [edge] table (env SALINMAS_CONFIG); "
        "SALINMAS_EDGE_* environment variables override it",
    )
    parser.add_argument(
        "--check", action="store_true", help="validate the configuration, print it, and exit"
    )
    parser.add_argument("--version", action="version", version=__version__)
    ns = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from edge.config import EdgeSettings

    try:
        settings = EdgeSettings.load(ns.config)
    except (ValueError, OSError) as exc:
        print(f"invalid configuration: {exc}", file=sys.stderr)
        return 2
    if ns.check:
        import json

        print(json.dumps(settings.redacted(), indent=2, default=str))
        return 0
    from edge.agent import run

    return run(settings)


if __name__ == "__main__":
    raise SystemExit(main())
