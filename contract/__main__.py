"""``python -m contract [DIR]`` writes the JSON Schemas (default ``contract/schemas``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from contract.models import fleet_schemas, json_schemas


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    schemas = json_schemas() | {f"cloud-{k}": v for k, v in fleet_schemas().items()}
    for kind, schema in schemas.items():
        path = directory / f"{kind}.schema.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "schemas"
    for p in write_schemas(target):
        print(p)
