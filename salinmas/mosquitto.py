"""The project's Mosquitto configuration, and a local Mosquitto process for the demo.

Production brokers use the same rules (see ``deploy/mosquitto/``): no anonymous clients,
one account per device in a password file written by the cloud
(:mod:`cloud.broker_accounts`), and the generated ACL confining each device to its own
topics. ``kill -HUP`` makes Mosquitto re-read both files (provisioning, revocation).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path


def mosquitto_binary() -> str | None:
    """The mosquitto executable, or None when it is not installed."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None


def mosquitto_config(
    *,
    port: int,
    workdir: Path,
    password_file: Path,
    acl_file: Path,
    bind: str = "127.0.0.1",
    max_inflight: int = 20,
    max_queued: int = 100_000,
) -> str:
    """A mosquitto.conf for one listener with accounts, ACL and persistence in ``workdir``."""
    # as root, mosquitto would drop to the 'mosquitto' user and lose access to workdir
    run_as = "user root\n" if os.geteuid() == 0 else ""
    return (
        run_as + f"listener {port} {bind}\n"
        "allow_anonymous false\n"
        f"password_file {password_file}\n"
        f"acl_file {acl_file}\n"
        "persistence true\n"
        f"persistence_location {workdir}/\n"
        "autosave_interval 1\n"
        f"max_inflight_messages {max_inflight}\n"
        f"max_queued_messages {max_queued}\n"
        "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
        f"log_dest file {workdir}/server.log\n"
    )


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def start_mosquitto(conf: Path, port: int, timeout_s: float = 15) -> subprocess.Popen[bytes]:
    """Start ``mosquitto -c conf`` and wait until it accepts connections on ``port``."""
    binary = mosquitto_binary()
    if binary is None:
        raise FileNotFoundError("mosquitto is not installed (apt-get install mosquitto)")
    proc = subprocess.Popen(
        [binary, "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C meant for the parent does not reach the broker
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if port_open(port):
            return proc
        if proc.poll() is not None:
            raise RuntimeError(f"mosquitto exited with {proc.returncode}; see {conf.parent}")
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    raise TimeoutError(f"mosquitto did not listen on {port} within {timeout_s}s")
