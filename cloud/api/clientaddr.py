"""The caller's address (login throttle, public rate limits): forwarded headers only from
trusted proxies.

Behind a reverse proxy every request comes from the proxy; the proxy appends the address
it saw to ``X-Forwarded-For``. Anything to the left of that was written by the client
and may be invented. So the address is found from the right:

* the peer is not a trusted proxy (``trusted_proxies``, addresses or networks): the
  peer is the client, whatever the headers say;
* else walk ``X-Forwarded-For`` from the right, skipping trusted proxies; the first hop
  that is not one is the client (a hop that is not an address stops the walk: the last
  trusted hop before it is taken as the client).

>>> nets = parse_networks(["10.0.0.0/8"])
>>> client_address("10.0.0.2", "6.6.6.6, 203.0.113.9", nets)   # 6.6.6.6 is made up
'203.0.113.9'
>>> client_address("198.51.100.7", "203.0.113.9", nets)        # not via our proxy
'198.51.100.7'
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from starlette.requests import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(items: Iterable[str]) -> list[Network]:
    """``"10.0.0.1"`` or ``"10.0.0.0/8"`` (or IPv6) as networks; ValueError if malformed."""
    return [ipaddress.ip_network(item.strip(), strict=False) for item in items]


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, nets: Sequence[Network]) -> bool:
    return any(ip.version == n.version and ip in n for n in nets)


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The client's address: the peer, or the rightmost untrusted ``X-Forwarded-For`` hop
    when the peer (and every hop to its right) is a trusted proxy."""
    if not peer:
        return "unknown"
    peer_ip = _ip(peer)
    if peer_ip is None or not trusted or not _trusted(peer_ip, trusted):
        return peer
    nearest = str(peer_ip)
    for hop in reversed((forwarded_for or "").split(",")):
        ip = _ip(hop)
        if ip is None:
            return nearest  # garbage: nothing to its left can be believed
        if not _trusted(ip, trusted):
            return str(ip)
        nearest = str(ip)
    return nearest


def request_address(request: Request, trusted: Sequence[Network]) -> str:
    """:func:`client_address` of a request (its peer and its ``X-Forwarded-For``)."""
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers.get("x-forwarded-for"), trusted)
