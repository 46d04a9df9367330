#!/usr/bin/env python3
"""The package import graph of Salinmas, checked against the floors of ARCHITECTURE.md.

    .venv/bin/python scripts/import_graph.py            # check; exit 1 on a new violation
    .venv/bin/python scripts/import_graph.py --graph    # print the package graph too

Floors (imports only run downward; a package may import its own floor's other modules
only within itself)::

    4  roof        stack (the command line, demo, embedded broker, Mosquitto launcher)
    3  services    cloud.api  cloud.ingest  edge (agent)  simulators
    2  domain      cloud (households, pricing, crediting, postings, pickups, ...)
    1  adapters    cloud.telemetry  edge.firmware_bridge
    0  ground      contract  protocols (indicator parsers)  salinmas (settings, MQTT, backoff)

Besides the floors, three boundaries hold whatever the floors say: ``edge`` never imports
``cloud``, ``cloud`` never imports ``edge``, ``contract`` and ``protocols`` import nothing of ours.

Every ``import`` counts, at module level or inside a function (a lazy import is still a
dependency), found by reading the sources (nothing is imported). Only the shipped
packages are checked; ``tests`` and ``bench`` sit above everything.

:data:`KNOWN` lists the violations the project knows of and has planned to remove, each
with what removes it. A violation not in it fails the check; so does an entry of it
that no longer happens (remove it, the move is done).
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ("contract", "protocols", "salinmas", "edge", "cloud", "simulators", "stack")

#: package -> floor; a module belongs to the longest package name that prefixes it
FLOORS: dict[str, int] = {
    "contract": 0,
    "protocols": 0,  # pure indicator parsers (stdlib only): the edge reads, the cloud re-checks
    "salinmas": 0,  # the settings and clients every process imports
    "cloud.telemetry": 1,
    "edge.firmware_bridge": 1,
    "cloud": 2,
    "cloud.api": 3,
    "cloud.ingest": 3,
    "edge": 3,
    "simulators": 3,
    "stack": 4,
    "salinmas.__main__": 4,  # `python -m salinmas` runs the roof's command line
}
FLOOR_NAMES = {0: "ground", 1: "adapters", 2: "domain", 3: "services", 4: "roof"}

#: (importer package, imported package) pairs never allowed, whatever the floors
FORBIDDEN = {("edge", "cloud"), ("cloud", "edge")}

#: violations known today -> what removes them (the lead's TODO list)
KNOWN: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Edge:
    importer: str  # module
    imported: str  # module (or package)
    where: str  # path:line


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for top in SHIPPED:
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(module: str, path: Path, known: dict[str, Path]) -> Iterator[Edge]:
    tree = ast.parse(path.read_text(), str(path))
    is_pkg = path.name == "__init__.py"
    where = path.relative_to(ROOT)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Edge(module, alias.name, f"{where}:{node.lineno}")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module.split(".")
                drop = node.level - 1 if is_pkg else node.level
                parent = parent[: len(parent) - drop] if drop else parent
                base = ".".join([*parent, base] if base else parent)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield Edge(module, sub if sub in known else base, f"{where}:{node.lineno}")


def package_of(module: str) -> str | None:
    """The package (a key of :data:`FLOORS`) a module belongs to; None if not ours."""
    best = None
    for pkg in FLOORS:
        if (module == pkg or module.startswith(pkg + ".")) and (
            best is None or len(pkg) > len(best)
        ):
            best = pkg
    return best


def _top(pkg: str) -> str:
    return pkg.split(".")[0]


def graph() -> dict[tuple[str, str], list[Edge]]:
    """Package -> package edges, with the module imports behind each."""
    known = _modules()
    out: dict[tuple[str, str], list[Edge]] = defaultdict(list)
    for module, path in known.items():
        src = package_of(module)
        for e in dict.fromkeys(_imports(module, path, known)):  # once per statement
            dst = package_of(e.imported)
            if src is not None and dst is not None and dst != src:
                out[(src, dst)].append(e)
    return dict(out)


def violations(g: dict[tuple[str, str], list[Edge]]) -> dict[tuple[str, str], str]:
    """Each package edge that breaks a floor or a boundary, with why."""
    bad: dict[tuple[str, str], str] = {}
    for src, dst in g:
        if FLOORS[dst] > FLOORS[src]:
            bad[(src, dst)] = (
                f"{src} ({FLOOR_NAMES[FLOORS[src]]}) imports {dst} ({FLOOR_NAMES[FLOORS[dst]]})"
            )
        elif (_top(src), _top(dst)) in FORBIDDEN:
            bad[(src, dst)] = f"{_top(src)} never imports {_top(dst)}"
        elif src in ("contract", "protocols"):
            bad[(src, dst)] = f"{src} imports nothing of ours"
    return bad


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--graph", action="store_true", help="print every package edge")
    args = ap.parse_args(argv)
    g = graph()
    if args.graph:
        for (src, dst), edges in sorted(g.items()):
            print(f"{src} [{FLOORS[src]}] -> {dst} [{FLOORS[dst]}]  ({len(edges)} imports)")
    bad = violations(g)
    new = {k: v for k, v in bad.items() if k not in KNOWN}
    stale = [k for k in KNOWN if k not in bad]
    for key, why in sorted(bad.items()):
        status = "known" if key in KNOWN else "NEW"
        print(f"{status}: {why}")
        for e in g[key][:5]:
            print(f"    {e.where}: {e.importer} imports {e.imported}")
        if key in KNOWN:
            print(f"    {KNOWN[key]}")
    for key in stale:
        print(f"STALE: {key[0]} -> {key[1]} no longer happens: remove it from KNOWN")
    if not bad:
        print("no package imports one above it")
    return 1 if new or stale else 0


if __name__ == "__main__":
    sys.exit(main())
