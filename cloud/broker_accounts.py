"""Broker accounts: Mosquitto's dynamic-security document, derived from the wire contract.

Every broker account and what it may do lives in one document in the format of
Mosquitto's dynamic-security plugin (``mosquitto_dynamic_security.so``, Mosquitto 2):

- a **device** account per device: username = client id = device id (the broker
  refuses any other client id for it); one role ``device:<id>`` that may publish only
  ``salinmas/v1/dev/<id>/<kind>`` for the upstream kinds, subscribe (literally, refused
  at SUBSCRIBE otherwise) and receive only ``salinmas/v1/dev/<id>/<kind>`` for the
  downstream kinds and the fleet-wide topics (``contract.topics.FLEET_TOPICS``);
- **service** accounts (any client id): ``ingest`` reads every upstream kind, also
  through ``$share/<group>/...`` (shared subscriptions belong to ingest only), and
  publishes downstream kinds and fleet topics; ``api`` reads upstream kinds and
  publishes downstream kinds; ``admin`` may only use the plugin's control topic
  ``$CONTROL/dynamic-security/v1`` (provisioning).

Everything not granted is refused (the document's ``defaultACLAccess`` is deny for
publishing, receiving and subscribing). The roles are computed from
``contract.topics.TOPIC_SPECS``: a new kind needs no edit here.

Mosquitto 2.0.11 as measured here (tests/support/test_broker_acl.py): ``%u``/``%c`` in
dynsec ACL topics are **not** substituted, so each device has its own role; a SUBSCRIBE
to ``$share/<group>/<filter>`` is checked against the whole string, so only a role with
a ``$share/...`` pattern may join a group.

Two backends share this module's rules (:class:`AccountStore`): :class:`DynsecControl`
sends the commands to a running Mosquitto over its control topic (changes apply at
once: a deleted client is disconnected), :class:`DynsecFile` applies the same commands to
the document on disk for the embedded broker (:mod:`stack.broker`, which enforces it
with :class:`cloud.broker_rules.DynsecRules`). The initial document (service accounts) is
built by applying the same commands to an empty one (:func:`initial_document`).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from contract.topics import FLEET_TOPICS, PREFIX, TOPIC_SPECS, valid_device_id
from salinmas.mqtt import Connection, Endpoint

#: mosquitto's own default for dynsec and mosquitto_passwd; passwords are 144 random bits
PBKDF2_ITERATIONS = 101
SALT_BYTES = 12

INGEST, API, ADMIN = "ingest", "api", "admin"
SERVICE_ROLES = (INGEST, API, ADMIN)
CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
DEFAULT_ACCESS = {
    "publishClientSend": False,
    "publishClientReceive": False,
    "subscribe": False,
    "unsubscribe": True,
}

Acl = dict[str, Any]
Command = dict[str, Any]


class BrokerAccountError(RuntimeError):
    """The broker did not apply an account change (unreachable, refused, timed out)."""


# --------------------------------------------------------------------------- roles


def _acl(acltype: str, topic: str) -> Acl:
    return {"acltype": acltype, "topic": topic, "priority": 0, "allow": True}


def _kinds(upstream: bool) -> list[str]:
    return [k.value for k, s in TOPIC_SPECS.items() if s.upstream == upstream]


def device_rolename(device_id: str) -> str:
    return f"device:{device_id}"


def device_acls(device_id: str) -> list[Acl]:
    """One device: its own upstream topics out, its own downstream and fleet topics in."""
    acls = [_acl("publishClientSend", f"{PREFIX}/{device_id}/{k}") for k in _kinds(True)]
    for topic in [f"{PREFIX}/{device_id}/{k}" for k in _kinds(False)] + list(FLEET_TOPICS):
        acls += [_acl("subscribeLiteral", topic), _acl("publishClientReceive", topic)]
    return acls


def service_acls(role: str) -> list[Acl]:
    """What a service role may do (see the module docs)."""
    if role == ADMIN:
        return [
            _acl("publishClientSend", f"{CONTROL_TOPIC}/#"),
            _acl("publishClientReceive", f"{CONTROL_TOPIC}/#"),
            _acl("subscribePattern", f"{CONTROL_TOPIC}/#"),
        ]
    if role not in (INGEST, API):
        raise ValueError(f"unknown service role {role!r}")
    acls: list[Acl] = []
    for kind in _kinds(True):
        topic = f"{PREFIX}/+/{kind}"
        acls += [_acl("subscribePattern", topic), _acl("publishClientReceive", topic)]
        if role == INGEST:
            acls.append(_acl("subscribePattern", f"$share/+/{topic}"))
    acls += [_acl("publishClientSend", f"{PREFIX}/+/{k}") for k in _kinds(False)]
    if role == INGEST:
        acls += [_acl("publishClientSend", t) for t in FLEET_TOPICS]
    return acls


# --------------------------------------------------------------------------- passwords


def new_password() -> str:
    """A fresh random device password (shown once at provisioning)."""
    return secrets.token_urlsafe(24)


def hash_password(password: str, *, iterations: int = PBKDF2_ITERATIONS) -> dict[str, Any]:
    """Dynsec's stored form: base64 PBKDF2-SHA512 digest, salt and iteration count."""
    salt = os.urandom(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return {
        "password": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": iterations,
    }


def verify_password(password: str, client: Mapping[str, Any]) -> bool:
    try:
        salt = base64.b64decode(client["salt"])
        digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(client["iterations"]))
        return secrets.compare_digest(base64.b64encode(digest).decode(), str(client["password"]))
    except (KeyError, ValueError, TypeError):
        return False


# --------------------------------------------------------------------------- commands


def device_commands(device_id: str, password: str) -> list[Command]:
    """Create the device's role and account (client id bound to the device id).

    A leftover role of the same name is replaced; an existing *account* of that name (a
    service, or a device not revoked) makes ``createClient`` fail: nothing is taken over.
    """
    if not valid_device_id(device_id):
        raise ValueError(f"invalid device id {device_id!r}")
    role = device_rolename(device_id)
    return [
        {"command": "deleteRole", "rolename": role},
        {"command": "createRole", "rolename": role, "acls": device_acls(device_id)},
        {
            "command": "createClient",
            "username": device_id,
            "clientid": device_id,
            "password": password,
            "roles": [{"rolename": role, "priority": -1}],
        },
    ]


def revoke_commands(device_id: str) -> list[Command]:
    """Delete the device's account (Mosquitto disconnects it at once) and its role."""
    return [
        {"command": "deleteClient", "username": device_id},
        {"command": "deleteRole", "rolename": device_rolename(device_id)},
    ]


def service_commands(username: str, role: str, password: str) -> list[Command]:
    return [
        {"command": "createRole", "rolename": role, "acls": service_acls(role)},
        {
            "command": "createClient",
            "username": username,
            "password": password,
            "roles": [{"rolename": role, "priority": -1}],
        },
    ]


#: errors that leave the wanted state in place (the commands are idempotent with them)
TOLERATED = frozenset({"Client not found", "Role not found", "Role already exists"})


def _check(responses: Sequence[tuple[Command, str | None]]) -> None:
    failed = [f"{c['command']}: {e}" for c, e in responses if e and e not in TOLERATED]
    if failed:
        raise BrokerAccountError("; ".join(failed))


def apply_commands(doc: dict[str, Any], commands: Sequence[Command]) -> list[str | None]:
    """Apply dynsec commands to a document in place, as the plugin does; errors per command.

    Names are looked up in sets, and a role's holders are only searched when the role
    exists: a fleet's initial document (each device's ``deleteRole`` of a role that is not
    there yet) is built in linear time, not in time quadratic in the fleet.
    """
    clients: list[dict[str, Any]] = doc.setdefault("clients", [])
    roles: list[dict[str, Any]] = doc.setdefault("roles", [])
    usernames = {c["username"] for c in clients}
    rolenames = {r["rolename"] for r in roles}
    out: list[str | None] = []
    for cmd in commands:
        name, error = cmd["command"], None
        if name == "createRole":
            if cmd["rolename"] in rolenames:
                error = "Role already exists"
            else:
                roles.append({"rolename": cmd["rolename"], "acls": list(cmd.get("acls", []))})
                rolenames.add(cmd["rolename"])
        elif name == "deleteRole":
            if cmd["rolename"] not in rolenames:
                error = "Role not found"
            else:
                rolenames.discard(cmd["rolename"])
                roles[:] = [r for r in roles if r["rolename"] != cmd["rolename"]]
                for c in clients:
                    c["roles"] = [r for r in c.get("roles", []) if r["rolename"] != cmd["rolename"]]
        elif name == "createClient":
            if cmd["username"] in usernames:
                error = "Client already exists"
            else:
                client = {"username": cmd["username"], "roles": list(cmd.get("roles", []))}
                if cmd.get("clientid"):
                    client["clientid"] = cmd["clientid"]
                client |= hash_password(cmd["password"])
                clients.append(client)
                usernames.add(cmd["username"])
        elif name == "deleteClient":
            if cmd["username"] not in usernames:
                error = "Client not found"
            else:
                usernames.discard(cmd["username"])
                clients[:] = [c for c in clients if c["username"] != cmd["username"]]
        else:
            error = "Unknown command"
        out.append(error)
    return out


def initial_document(
    services: Mapping[str, tuple[str, str]], devices: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The dynsec document a broker starts with.

    ``services``: username -> (role, password); ``devices``: device id -> password.
    """
    doc: dict[str, Any] = {"clients": [], "roles": [], "defaultACLAccess": dict(DEFAULT_ACCESS)}
    commands: list[Command] = []
    for username, (role, password) in sorted(services.items()):
        commands += service_commands(username, role, password)
    for device_id, password in sorted((devices or {}).items()):
        commands += device_commands(device_id, password)
    _check(list(zip(commands, apply_commands(doc, commands), strict=True)))
    return doc


# --------------------------------------------------------------------------- stores


class AccountStore(Protocol):
    """Where device accounts are created and removed (one interface, two backends)."""

    def add_device(self, device_id: str, password: str) -> None: ...

    def remove_device(self, device_id: str) -> None: ...


class DynsecFile:
    """The document on disk, edited under an advisory lock (the embedded broker reads it)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def write(self, doc: Mapping[str, Any]) -> None:
        """Replace the document atomically (readable by the owner only)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(json.dumps(doc, indent=1))
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    def read(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"clients": [], "roles": [], "defaultACLAccess": dict(DEFAULT_ACCESS)}
        doc: dict[str, Any] = json.loads(self.path.read_text())
        return doc

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        lock = self.path.with_name(self.path.name + ".lock")
        lock.parent.mkdir(parents=True, exist_ok=True)
        with lock.open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def run(self, commands: Sequence[Command]) -> None:
        with self._locked():
            doc = self.read()
            errors = apply_commands(doc, commands)
            _check(list(zip(commands, errors, strict=True)))
            self.write(doc)

    def add_device(self, device_id: str, password: str) -> None:
        self.run(device_commands(device_id, password))

    def remove_device(self, device_id: str) -> None:
        self.run(revoke_commands(device_id))


class DynsecControl:
    """A running Mosquitto's dynamic-security plugin, through ``$CONTROL/dynamic-security/v1``.

    Each change connects with the ``admin`` service account, publishes the commands (with
    a correlation id each), waits for the plugin's answers and disconnects.
    """

    def __init__(self, endpoint: Endpoint, *, timeout_s: float = 5.0) -> None:
        self.endpoint = endpoint
        self.timeout_s = timeout_s

    def add_device(self, device_id: str, password: str) -> None:
        self.run(device_commands(device_id, password))

    def remove_device(self, device_id: str) -> None:
        self.run(revoke_commands(device_id))

    def run(self, commands: Sequence[Command]) -> None:
        token = secrets.token_hex(6)
        sent = [{**c, "correlationData": f"{token}-{i}"} for i, c in enumerate(commands)]
        answers: dict[str, str | None] = {}
        subscribed, done = threading.Event(), threading.Event()

        def on_connect(client: Any, _flags: Any, reason: Any) -> None:
            if not reason.is_failure:
                client.subscribe(f"{CONTROL_TOPIC}/response", qos=1)

        def on_message(_c: Any, _u: Any, msg: Any) -> None:
            try:
                responses = json.loads(msg.payload)["responses"]
            except (ValueError, KeyError, TypeError):
                return
            for r in responses:
                corr = r.get("correlationData")
                if isinstance(corr, str) and corr.startswith(token):
                    answers[corr] = r.get("error")
            if len(answers) == len(sent):
                done.set()

        conn = Connection(
            self.endpoint,
            f"salinmas-admin-{token}",
            on_connect=on_connect,
            on_message=on_message,
            on_subscribe=lambda *_a: subscribed.set(),
            tick_s=0.1,
            name="broker-admin",
        ).start()
        try:
            if not subscribed.wait(self.timeout_s):
                why = conn.last_error or "no answer"
                raise BrokerAccountError(f"broker control topic unavailable: {why}")
            conn.client.publish(CONTROL_TOPIC, json.dumps({"commands": sent}), qos=1)
            if not done.wait(self.timeout_s):
                raise BrokerAccountError("the broker did not answer the account change in time")
        finally:
            conn.stop()
        _check([(c, answers.get(c["correlationData"])) for c in sent])
