"""Who is asking, from where: set once per request by middleware, read by the audit log.

A contextvar rather than a `request` argument threaded through every service, so services keep
their keyword-only signatures and tasks (which have no request) simply record no IP."""

from __future__ import annotations

import contextvars
import ipaddress
from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class RequestContext:
    ip: str | None = None
    user_agent: str = ""


_EMPTY = RequestContext()
# RequestContext is frozen, so sharing one empty instance as the default is safe.
_current: contextvars.ContextVar[RequestContext] = contextvars.ContextVar("portal_request_context", default=_EMPTY)


def current() -> RequestContext:
    return _current.get()


def set_current(ctx: RequestContext) -> contextvars.Token:
    return _current.set(ctx)


def reset(token: contextvars.Token) -> None:
    _current.reset(token)


def _valid_ip(value: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address((value or "").strip()))
    except ValueError:
        return None


def _trusted(address: str | None) -> bool:
    if address is None:
        return False
    ip = ipaddress.ip_address(address)
    return any(ip in network for network in trusted_proxies())


def trusted_proxies() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """settings.TRUSTED_PROXIES as networks (addresses or CIDR ranges); empty by default."""
    configured = settings.TRUSTED_PROXIES
    cached = _networks_cache.get("value")
    if cached is None or cached[0] != configured:
        cached = (configured, tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in configured if entry.strip()))
        _networks_cache["value"] = cached
    return cached[1]


_networks_cache: dict = {}


def client_ip_from_meta(meta: dict) -> str | None:
    """The client's address. X-Forwarded-For is read only when the request comes from a proxy named in
    TRUSTED_PROXIES (none by default): walking it from the right, the first address that is not a
    trusted proxy is the client; entries further left are the client's to forge."""
    remote = _valid_ip(meta.get("REMOTE_ADDR"))
    if not _trusted(remote):
        return remote
    hops = [_valid_ip(h) for h in (meta.get("HTTP_X_FORWARDED_FOR") or "").split(",") if h.strip()]
    for hop in reversed(hops):
        if hop is None:
            return remote  # a malformed entry: nothing left of it can be trusted
        if not _trusted(hop):
            return hop
    return remote


def client_ip(request) -> str | None:
    """AXES_CLIENT_IP_CALLABLE: the lockout and the audit log agree on who the client is."""
    return client_ip_from_meta(request.META)


def from_meta(meta: dict) -> RequestContext:
    return RequestContext(ip=client_ip_from_meta(meta), user_agent=(meta.get("HTTP_USER_AGENT") or "")[:400])
