"""The API leaves no process behind when it stops, by SIGTERM (systemd, the benches) or SIGKILL.

The route solver runs in a worker process (``cloud/routing/engine.py``) started at
start-up. uvicorn ends a SIGTERMed server by raising SIGTERM again after its shut-down,
so the process died without concurrent.futures' ``atexit`` hook, and every restart left
the worker (and multiprocessing's resource tracker, alive while the worker holds its
pipe) re-parented to PID 1. Now the lifespan stops the worker
(:func:`cloud.routing.engine.stop_worker`) and every worker process exits with its parent
(:func:`salinmas.lifeline.exit_with_parent`: the routing worker, and uvicorn's workers
when ``workers > 1``).

Each test starts the real ``salinmas api run`` the way the benches do
(:func:`bench.api_balance.start_api`), waits until every server process has its routing
worker, records the whole process tree, signals the top process and watches the tree.
For the test, this process is the child subreaper (Linux ``prctl``), so whatever the API
orphans is re-parented here and seen rather than lost to PID 1. After SIGTERM no process
but multiprocessing's resource tracker (orphaned by design: it ends when its pipe
closes) may have been orphaned — its parent reaped it — and all must be gone within
seconds; after SIGKILL, all must be gone within seconds.

mutant: no stop_worker() in the lifespan's shut-down -> SIGTERM (1 and 2 workers):
        the routing worker is orphaned -> fails
mutant: no initializer=exit_with_parent on the pool -> SIGKILL (1 and 2 workers): the
        routing worker lives on -> fails
mutant: no exit_with_parent() in app_from_environment -> SIGKILL (2 workers): uvicorn's
        workers live on -> fails
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from bench.api_balance import server_pids, start_api
from cloud.db import migrate
from tests.support.procs import children, cmdline
from tests.support.services import free_port
from tests.support.waiting import wait_until

PR_SET_CHILD_SUBREAPER = 36


class Proc(NamedTuple):
    pid: int
    start: int  #: clock ticks after boot: a reused pid is not this process
    cmdline: str


@pytest.fixture(scope="module")
def ledger_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('exit') / 'ledger.db'}"
    migrate(url)
    return url


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, start time) of ``pid``, None if there is no such process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return fields[0], int(fields[19])


def _descendants(pid: int) -> list[int]:
    return [d for k in children(pid) for d in (k, *_descendants(k))]


def _alive(proc: Proc) -> bool:
    now = _stat(proc.pid)
    return now is not None and now[1] == proc.start and now[0] != "Z"


def _set_subreaper(on: bool) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


@contextlib.contextmanager
def _api(
    ledger_url: str, workdir: Path, workers: int
) -> Iterator[tuple[subprocess.Popen[bytes], list[Proc]]]:
    """The API started, and its process tree once every server process has its routing
    worker; on exit every process of the tree still there is killed and reaped."""
    _set_subreaper(True)
    tree: list[Proc] = []
    proc = start_api(ledger_url, workdir, free_port(), workers)
    try:
        serving = [proc.pid] if workers == 1 else server_pids(proc.pid)[:-1]
        assert len(serving) == workers
        wait_until(
            lambda: all(any("spawn_main" in cmdline(k) for k in children(p)) for p in serving),
            60,
            "the routing worker of every server process",
        )
        for pid in _descendants(proc.pid):
            now = _stat(pid)
            if now is not None:
                tree.append(Proc(pid, now[1], cmdline(pid)))
        assert len(tree) == 1 + (workers if workers == 1 else 2 * workers)  # + resource tracker
        yield proc, tree
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(10)
        for p in tree:
            if _alive(p):
                os.kill(p.pid, signal.SIGKILL)
        for p in tree:  # the orphans this process adopted: reap them
            with contextlib.suppress(ChildProcessError):
                os.waitpid(p.pid, 0)
        _set_subreaper(False)


def _gone(tree: list[Proc], what: str) -> None:
    wait_until(
        lambda: not any(_alive(p) for p in tree),
        10,
        what,
        state=lambda: "alive: " + "; ".join(p.cmdline[:90] for p in tree if _alive(p)),
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_stops_the_api_with_every_process_it_started(
    ledger_url: str, tmp_path: Path, workers: int
) -> None:
    with _api(ledger_url, tmp_path, workers) as (proc, tree):
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        # the API is gone: what it had not reaped itself has been re-parented here
        adopted = set(children(os.getpid()))
        orphaned = [
            p.cmdline[:90] for p in tree if p.pid in adopted and "resource_tracker" not in p.cmdline
        ]
        assert orphaned == [], "orphaned by the API's SIGTERM shut-down"
        _gone(tree, "every process the API started to exit")


@pytest.mark.parametrize("workers", [1, 2])
def test_the_api_killed_leaves_no_process_behind(
    ledger_url: str, tmp_path: Path, workers: int
) -> None:
    with _api(ledger_url, tmp_path, workers) as (proc, tree):
        proc.kill()
        proc.wait(10)
        _gone(tree, "every process the killed API started to exit")
