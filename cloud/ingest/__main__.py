"""``python -m cloud.ingest [--config FILE]``: run one ingest worker."""

from __future__ import annotations

import argparse
import logging

from cloud.ingest import IngestSettings, run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m cloud.ingest",
        description="Salinmas cloud ingest: MQTT -> ledger + telemetry, receipts back.",
    )
    parser.add_argument("--config", help="TOML file with an [ingest] table")
    args = parser.parse_args(argv)
    settings = IngestSettings.load(args.config)
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    raise SystemExit(run(settings))


if __name__ == "__main__":
    main()
