"""The production broker configuration: committed as generated, and it runs with TLS.

mutant: a config change not regenerated into deploy/mosquitto/ -> fails
mutant: the factory's TLS context without certificate verification -> fails
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from cloud.broker_accounts import ADMIN, API, INGEST, DynsecFile, initial_document
from salinmas.mqtt import Connection, Endpoint
from stack.mosquitto import production_config, start_mosquitto
from tests.support.services import free_port
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
DEPLOYED_PLUGIN = Path("/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so")


def test_the_committed_production_config_is_the_generated_one() -> None:
    committed = (ROOT / "deploy/mosquitto/mosquitto.conf").read_text()
    assert committed == production_config(plugin=DEPLOYED_PLUGIN)  # salinmas broker config


def _certificate(directory: Path) -> None:
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(directory / "server.key"),
            "-out",
            str(directory / "server.crt"),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    (directory / "ca.crt").write_bytes((directory / "server.crt").read_bytes())


@pytest.mark.integration
def test_the_production_config_serves_tls_with_dynsec_accounts(tmp_path: Path) -> None:
    _certificate(tmp_path)
    port = free_port()
    services = {
        "salinmas-ingest": (INGEST, "ingest-pw-0123456789"),
        "salinmas-api": (API, "api-pw-0123456789"),
        "salinmas-admin": (ADMIN, "admin-pw-0123456789"),
    }
    DynsecFile(tmp_path / "dynamic-security.json").write(initial_document(services))
    conf = production_config(port=port, data_dir=tmp_path, tls_dir=tmp_path)
    if os.geteuid() == 0:  # as root mosquitto would switch to its own user
        conf = "user root\n" + conf
    (tmp_path / "mosquitto.conf").write_text(conf)
    proc = start_mosquitto(tmp_path / "mosquitto.conf", port)
    try:
        ok = Endpoint(
            "127.0.0.1",
            port,
            "salinmas-ingest",
            "ingest-pw-0123456789",
            tls=True,
            ca_file=tmp_path / "ca.crt",
        )
        conn = Connection(ok, "tls-ingest", tick_s=0.1).start()
        assert conn.wait_connected(10), conn.last_error
        conn.stop()
        # the system trust store does not know this CA: the factory's TLS refuses it
        untrusted = Endpoint("127.0.0.1", port, "salinmas-ingest", "ingest-pw-0123456789", tls=True)
        conn = Connection(untrusted, "tls-untrusted", tick_s=0.1, reconnect=False).start()
        wait_until(lambda: not conn.alive, 10, "the refused TLS handshake")
        assert not conn.connected
        assert "CERTIFICATE_VERIFY_FAILED" in conn.last_error
        conn.stop()
    finally:
        proc.terminate()
        proc.wait(10)
