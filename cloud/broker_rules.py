"""The decisions of Mosquitto's dynamic-security plugin, for the embedded broker.

:class:`DynsecRules` reads the account document of :mod:`cloud.broker_accounts` and
decides as the plugin of Mosquitto 2.0.11 does (``plugins/dynamic-security/acl.c`` and
``sub_matches_sub.c``): a client's roles by priority, their ACLs by priority, the first
match decides, else ``defaultACLAccess``; a client with a ``clientid`` may connect only
with it. Publishing uses MQTT topic matching; subscribing uses the plugin's containment
rule (:func:`subscription_within`), so a ``+`` in a subscription never matches a literal
level of the ACL. ``tests/salinmas/test_embedded_broker.py`` runs the plugin's own cases.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from cloud.broker_accounts import DEFAULT_ACCESS, Acl, verify_password


def topic_matches(filter_: str, topic: str) -> bool:
    """MQTT topic matching (``+``, ``#``; wildcards never match a leading ``$`` level)."""
    f, t = filter_.split("/"), topic.split("/")
    if topic.startswith("$") and f[0] in ("+", "#"):
        return False
    for i, level in enumerate(f):
        if level == "#":
            return True
        if i >= len(t) or (level != "+" and level != t[i]):
            return False
    return len(f) == len(t)


def subscription_within(acl: str, sub: str) -> bool:
    """Whether subscription filter ``sub`` lies within ACL pattern ``acl`` (dynsec's rule)."""
    if acl == "#":
        return True
    a, s = acl.split("/"), sub.split("/")
    a_hash, s_hash = a[-1] == "#", s[-1] == "#"
    if a_hash:
        a = a[:-1]
    if s_hash:
        s = s[:-1]
    if s_hash and not a_hash:
        return False
    if len(a) > len(s) or (len(s) > len(a) and not a_hash):
        return False
    return all(al == "+" or al == sl for al, sl in zip(a, s, strict=False))


class DynsecRules:
    """The document's decisions, as Mosquitto's plugin takes them (for the embedded broker)."""

    def __init__(self, doc: Mapping[str, Any]) -> None:
        self.clients = {c["username"]: c for c in doc.get("clients", [])}
        self.roles = {r["rolename"]: r for r in doc.get("roles", [])}
        self.default = {**DEFAULT_ACCESS, **doc.get("defaultACLAccess", {})}

    def authenticate(self, username: str | None, password: str | None, client_id: str) -> bool:
        client = self.clients.get(username or "")
        if client is None or password is None or client.get("disabled"):
            return False
        if client.get("clientid") and client["clientid"] != client_id:
            return False
        return verify_password(password, client)

    def _acls(self, username: str, *types: str) -> Iterator[Acl]:
        client = self.clients.get(username)
        if client is None:
            return
        for entry in sorted(client.get("roles", []), key=lambda r: -int(r.get("priority", -1))):
            role = self.roles.get(entry["rolename"])
            if role is None:
                continue
            acls = [a for a in role.get("acls", []) if a["acltype"] in types]
            yield from sorted(acls, key=lambda a: -int(a.get("priority", 0)))

    def may_publish(self, username: str, topic: str) -> bool:
        if topic.startswith("$SYS") or topic.startswith("$share"):
            return False
        for acl in self._acls(username, "publishClientSend"):
            if topic_matches(acl["topic"], topic):
                return bool(acl["allow"])
        return bool(self.default["publishClientSend"])

    def may_receive(self, username: str, topic: str) -> bool:
        for acl in self._acls(username, "publishClientReceive"):
            if topic_matches(acl["topic"], topic):
                return bool(acl["allow"])
        return bool(self.default["publishClientReceive"])

    def may_subscribe(self, username: str, sub: str) -> bool:
        for acl in self._acls(username, "subscribeLiteral", "subscribePattern"):
            literal = acl["acltype"] == "subscribeLiteral"
            if (acl["topic"] == sub) if literal else subscription_within(acl["topic"], sub):
                return bool(acl["allow"])
        return bool(self.default["subscribe"])
