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


def client_ip_from_meta(meta: dict) -> str | None:
    """The client's address. Behind N trusted proxies (TRUSTED_PROXY_COUNT), it is the N-th
    X-Forwarded-For entry from the right; entries further left are the client's to forge."""
    remote = _valid_ip(meta.get("REMOTE_ADDR"))
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    hops = [h for h in (meta.get("HTTP_X_FORWARDED_FOR") or "").split(",") if h.strip()]
    if len(hops) < count:
        return remote
    return _valid_ip(hops[-count]) or remote


def client_ip(request) -> str | None:
    """AXES_CLIENT_IP_CALLABLE: the lockout and the audit log agree on who the client is."""
    return client_ip_from_meta(request.META)


def from_meta(meta: dict) -> RequestContext:
    return RequestContext(ip=client_ip_from_meta(meta), user_agent=(meta.get("HTTP_USER_AGENT") or "")[:400])
