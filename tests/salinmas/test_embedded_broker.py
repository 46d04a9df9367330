"""The demo's embedded broker decides like Mosquitto's dynamic-security plugin.

The attack matrix runs against both brokers in ``tests/cloud/test_broker_acl.py``; here:
the decision functions on Mosquitto's own test cases, and what only the embedded broker
does (revocation read from the document without a restart).

mutant: subscription_within() treating '+' in a subscription as matching a literal -> fails
mutant: topic_matches() letting '+'/'#' match a '$' topic -> fails
mutant: the document not re-read when it changes -> fails (revoked device still publishes)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from cloud.broker_accounts import INGEST, DynsecFile, initial_document
from cloud.broker_rules import DynsecRules, subscription_within, topic_matches
from stack.broker import EmbeddedBroker
from tests.support.services import free_port
from tests.support.waiting import wait_until


@pytest.mark.parametrize(
    ("acl", "sub", "within"),
    [  # plugins/dynamic-security/sub_matches_sub.c (Mosquitto 2.0.11), its own cases
        ("foo/+/bar", "foo/#", False),
        ("foo/+/ba℞/#", "foo/baz/ba℞", True),
        ("foo/+/ba℞/#", "foo/baz/ba℞/+", True),
        ("foo/+/ba℞/#", "foo/baz/ba℞/#", True),
        ("foo/+/ba℞/#", "foo/baz/+/#", False),
        ("/+//#", "/foo///#", True),
        ("#", "#", True),
        ("#", "+", True),
        ("/#", "+", False),
        ("/#", "/+", True),
        ("/+", "#", False),
        ("/+", "+", False),
        ("+/+", "topic/topic", True),
        ("+/+", "topic/topic/", False),
        ("+", "#", False),
        ("+", "+", True),
        ("a/b/c/d/e", "a/b/c/d/e", True),
        ("a/b/ /d/e", "a/b/c/d/e", False),
        ("$share/+/salinmas/v1/dev/+/fill", "$share/ingest/salinmas/v1/dev/+/fill", True),
        ("salinmas/v1/dev/st-a/receipt", "salinmas/v1/dev/+/receipt", False),
    ],
)
def test_subscription_within_an_acl_pattern(acl: str, sub: str, within: bool) -> None:
    assert subscription_within(acl, sub) is within


@pytest.mark.parametrize(
    ("filter_", "topic", "match"),
    [
        ("salinmas/v1/dev/+/fill", "salinmas/v1/dev/bn-1/fill", True),
        ("salinmas/v1/dev/+/fill", "salinmas/v1/dev/bn-1/fill/x", False),
        ("salinmas/#", "salinmas/v1/cloud/ingest", True),
        ("#", "$SYS/broker/uptime", False),
        ("+/broker/uptime", "$SYS/broker/uptime", False),
        ("$SYS/#", "$SYS/broker/uptime", True),
    ],
)
def test_topic_matching(filter_: str, topic: str, match: bool) -> None:
    assert topic_matches(filter_, topic) is match


def test_a_device_account_binds_its_client_id() -> None:
    rules = DynsecRules(initial_document({}, {"st-a1": "a1-pw"}))
    assert rules.authenticate("st-a1", "a1-pw", "st-a1")
    assert not rules.authenticate("st-a1", "a1-pw", "st-a1-other")
    assert not rules.authenticate("st-a1", "wrong", "st-a1")
    assert not rules.authenticate(None, None, "anon")


@pytest.fixture
def accounts(tmp_path: Path) -> DynsecFile:
    f = DynsecFile(tmp_path / "accounts.json")
    f.write(initial_document({"salinmas-ingest": (INGEST, "ingest-pw")}, {"st-a1": "a1-pw"}))
    return f


@pytest.fixture
def broker(accounts: DynsecFile) -> Iterator[EmbeddedBroker]:
    b = EmbeddedBroker(port=free_port(), accounts_file=accounts.path)
    b.start()
    yield b
    b.stop()


def _client(broker: EmbeddedBroker, user: str, pw: str) -> mqtt.Client:
    connected = threading.Event()
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=user)
    c.username_pw_set(user, pw)
    c.on_connect = lambda *_a: connected.set()
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    assert connected.wait(5)
    return c


def test_a_revoked_device_is_refused_at_once_without_a_restart(
    broker: EmbeddedBroker, accounts: DynsecFile
) -> None:
    got: list[bytes] = []
    sub = _client(broker, "salinmas-ingest", "ingest-pw")
    subscribed = threading.Event()
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.on_message = lambda c, u, m: got.append(m.payload)
    sub.subscribe("salinmas/v1/dev/+/health", qos=1)
    assert subscribed.wait(5)
    dev = _client(broker, "st-a1", "a1-pw")
    codes: list[list[object]] = []
    dev.on_subscribe = lambda _c, _u, _m, rc, _p: codes.append(list(rc))
    try:
        dev.publish("salinmas/v1/dev/st-a1/health", b"before", qos=1).wait_for_publish(5)
        wait_until(lambda: got == [b"before"], 5, "the device's message")
        dev.subscribe("salinmas/v1/dev/st-a1/receipt", qos=1)
        wait_until(lambda: len(codes) == 1, 5, "SUBACK")
        accounts.remove_device("st-a1")  # as provisioning does for the embedded broker
        dev.subscribe("salinmas/v1/dev/st-a1/cmd", qos=1)  # same connection, new decision
        wait_until(lambda: len(codes) == 2, 5, "SUBACK after revocation")
        assert not getattr(codes[0][0], "is_failure", True)
        assert getattr(codes[1][0], "is_failure", False)
    finally:
        for c in (sub, dev):
            c.loop_stop()
            c.disconnect()
