"""The URL a platform called, for signatures over it (Twilio's).

Behind a TLS-terminating proxy the ASGI scheme is http and the Host may be internal (PITFALLS.md).
PUBLIC_BASE_URL names the public origin outright; without it, X-Forwarded-Proto/-Host are read
only from TRUSTED_PROXIES, since from anyone else they would let a signature made for another
URL (another app on the same Twilio account) verify here.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from functools import lru_cache

from django.conf import settings
from django.http.request import split_domain_port, validate_host


class HostNotAllowed(ValueError):
    """The Host (or a trusted proxy's X-Forwarded-Host) is not in ALLOWED_HOSTS."""


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def is_trusted_proxy(client_ip: str | None) -> bool:
    try:
        address = ipaddress.ip_address(client_ip or "")
    except ValueError:
        return False
    return any(address in network for network in _networks(tuple(settings.TRUSTED_PROXIES)))


def _nearest(value: str | None) -> str:
    """The value the nearest proxy added: the last of a comma-separated list."""
    return (value or "").rsplit(",", 1)[-1].strip()


def webhook_url(*, scheme: str, host: str, path: str, query: str, client_ip: str | None,
                headers: Mapping[str, str]) -> str:
    """The public URL of this request: PUBLIC_BASE_URL + path (+ query), else scheme and host as
    received (forwarded ones from a trusted proxy only). `headers` are lower-cased."""
    suffix = path + (f"?{query}" if query else "")
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL + suffix
    if is_trusted_proxy(client_ip):
        proto = _nearest(headers.get("x-forwarded-proto")).lower()
        scheme = proto if proto in ("http", "https") else scheme
        host = _nearest(headers.get("x-forwarded-host")) or host
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        raise HostNotAllowed(f"host {host!r} is not allowed")
    return f"{scheme}://{host}{suffix}"
