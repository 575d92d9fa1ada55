"""The client's address, from one place: the audit log, confirmations, consents and
django-axes all call `client_ip`."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """TRUSTED_PROXIES as networks: a bare address is a network of one. An entry that is
    neither fails loudly, the first time an address is asked for, rather than trusting
    nobody (or everybody) in silence."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def _parse(value: str) -> Address | None:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    # An IPv4 client seen through an IPv6 socket ("::ffff:10.0.0.1") is that IPv4 client.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, networks: tuple[Network, ...]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def client_ip(request: HttpRequest) -> str | None:
    """The address the request came from.

    X-Forwarded-For is believed only when the connection itself comes from a configured
    proxy (TRUSTED_PROXIES): anyone else could write any address into it. Each proxy appends
    the address it saw, so the list is read from the right, skipping our own proxies; the
    first address that is not one of them is the client. Everything to its left was written
    by the client and proves nothing. A malformed entry ends the walk: nothing after it can
    be vouched for, so the last trusted hop's view stands (the proxy's own address)."""
    remote = _parse(request.META.get("REMOTE_ADDR") or "")
    if remote is None:
        return None
    networks = _networks(tuple(getattr(settings, "TRUSTED_PROXIES", ()) or ()))
    if not networks or not _trusted(remote, networks):
        return str(remote)
    header = request.META.get("HTTP_X_FORWARDED_FOR", "")
    client = remote
    for hop in reversed(header.split(",")) if header.strip() else ():
        address = _parse(hop)
        if address is None:
            break
        client = address
        if not _trusted(address, networks):
            break
    return str(client)
