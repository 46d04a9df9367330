"""A child process that ends with its parent, however the parent ended.

A ``spawn`` worker (:class:`concurrent.futures.ProcessPoolExecutor`, multiprocessing)
outlives a parent killed by a signal: the parent's ``atexit`` shut-down never runs, and
the worker waits on its task queue forever, re-parented to PID 1 (with multiprocessing's
resource tracker, which lives as long as any process holding its pipe).
:func:`exit_with_parent`, given as the pool's ``initializer``, makes such a worker exit
when its parent is gone.

It waits on :func:`multiprocessing.parent_process`'s sentinel: the read end of a pipe
whose write end only the parent holds, so it reads end-of-file the moment the parent
dies — SIGKILL included — with no polling, no ``prctl`` (Linux-only, and tied to the
parent *thread* that started the child, which may be a short-lived one) and no
dependency. This module imports nothing of ours and nothing heavy: a worker imports it
before its first task, so it costs the worker's start-up nothing.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import threading


def exit_with_parent() -> None:
    """In a multiprocessing child: end this process (``os._exit``) once its parent is
    gone. Returns at once; a daemon thread waits. Does nothing in a process that was
    not started by multiprocessing.

    A thread needs the GIL to act, so a C extension holding the GIL (pyvroom while it
    solves) delays the exit until it lets go."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    sentinel = parent.sentinel

    def watch() -> None:
        multiprocessing.connection.wait([sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
