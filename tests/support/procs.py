"""A process's children and command line, read from ``/proc`` (Linux): the tests that
check what a server leaves behind and the benches that add up a server's CPU."""

from __future__ import annotations

import contextlib
from pathlib import Path


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (every thread's), [] if it is gone."""
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            kids += [int(k) for k in (task / "children").read_text().split()]
    return kids


def cmdline(pid: int) -> str:
    """The command line of ``pid``, words joined by spaces ("" if it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""
