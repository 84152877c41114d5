"""Where a webhook may go, and the one way it is sent (the SSRF guard).

A URL is checked when it is saved and again at every delivery: the host is resolved, *every*
address it resolves to must be public (no loopback, private, link-local, shared, multicast, reserved
or unspecified address, IPv4 inside IPv6 unwrapped), and the connection is then made to one of those
checked addresses (the Host header and TLS name stay the URL's), so a name that resolves to a
public address for the check and to 127.0.0.1 a moment later (DNS rebinding) gains nothing.
Redirects are never followed and proxies from the environment are never used.

Production (PORTAL_ENV=production) requires https and refuses local addresses whatever the
settings say; development and tests may allow them (WEBHOOKS_ALLOW_LOCAL_ADDRESSES)."""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

MAX_URL_LENGTH = 500
RESPONSE_READ_LIMIT = 64 * 1024
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UnsafeURL(ValueError):
    """The URL may not receive webhooks; the message says why, for the page and the API."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path + query, as sent in the request line


def require_https() -> bool:
    return bool(settings.PRODUCTION or settings.WEBHOOKS_REQUIRE_HTTPS)


def allow_local() -> bool:
    return bool(settings.WEBHOOKS_ALLOW_LOCAL_ADDRESSES and not settings.PRODUCTION)


def parse(url: str) -> Target:
    """Syntax and scheme: no resolution here."""
    url = (url or "").strip()
    if not url:
        raise UnsafeURL(_("Give the endpoint's URL."))
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeURL(_("The URL is too long (at most %(n)s characters).") % {"n": MAX_URL_LENGTH})
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise UnsafeURL(_("The URL may not contain spaces or control characters."))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeURL(_("This is not a valid URL.")) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeURL(_("The URL must start with https:// (or http:// outside production)."))
    if scheme != "https" and require_https():
        raise UnsafeURL(_("Webhook endpoints must use https:// in production."))
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL(_("Put no user name or password in the URL: the signature authenticates the portal."))
    if parts.fragment:
        raise UnsafeURL(_("The URL may not have a #fragment."))
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeURL(_("The URL has no host name."))
    if port == 0:
        raise UnsafeURL(_("This is not a valid URL."))
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme=scheme, host=host, port=port or (443 if scheme == "https" else 80), path=path)


def _unwrap(ip: ipaddress.IPv4Address | ipaddress.IPv6Address):
    """The IPv4 address an IPv6 one carries (mapped, 6to4, NAT64), which is where it really goes."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def is_local(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Anything that is not a public unicast address of the internet."""
    ip = _unwrap(ip)
    return (
        not ip.is_global
        or ip.is_multicast
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_unspecified
    )


def resolve(host: str, port: int) -> list[str]:
    """Every address the host resolves to (a literal address is itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnsafeURL(_("The host name %(host)s could not be resolved.") % {"host": host}) from None
    seen: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        if sockaddr[0] not in seen:
            seen.append(sockaddr[0])
    if not seen:
        raise UnsafeURL(_("The host name %(host)s could not be resolved.") % {"host": host})
    return seen


def checked_addresses(target: Target) -> list[str]:
    """Resolve and check every address; raises UnsafeURL when any one may not be reached."""
    addresses = resolve(target.host, target.port)
    if allow_local():
        return addresses
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if is_local(ip):
            raise UnsafeURL(
                _(
                    "%(host)s resolves to %(address)s, a private, loopback or link-local address: "
                    "webhooks only go to public addresses."
                )
                % {"host": target.host, "address": address}
            )
    return addresses


def check(url: str) -> Target:
    """At save time: the URL is well-formed and reaches only allowed addresses now."""
    target = parse(url)
    checked_addresses(target)
    return target


# --- sending ------------------------------------------------------------------------------------


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, address: str, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, address: str, timeout: float, context: ssl.SSLContext):
        super().__init__(target.host, target.port, timeout=timeout, context=context)
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        # The certificate is checked against the URL's host name, not the address.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


@dataclass
class Response:
    status_code: int | None
    body_excerpt: str
    error: str
    duration_ms: int
    # The guard said no: waiting will not change that, so the delivery is not retried.
    refused: bool = False


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> Response:
    """POST body to url through the guard. Never raises: the outcome is in the Response."""
    started = time.monotonic()

    def done(status: int | None = None, excerpt: str = "", error: str = "", refused: bool = False) -> Response:
        return Response(status, excerpt, error[:300], int((time.monotonic() - started) * 1000), refused)

    try:
        target = parse(url)
        addresses = checked_addresses(target)
    except UnsafeURL as exc:
        return done(error=_("Refused: %(reason)s") % {"reason": str(exc)}, refused=True)
    last_error = ""
    for address in addresses:
        if target.scheme == "https":
            connection = _PinnedHTTPSConnection(target, address, timeout, ssl.create_default_context())
        else:
            connection = _PinnedHTTPConnection(target, address, timeout)
        try:
            try:
                connection.connect()
            except OSError as exc:
                last_error = _("Could not connect to %(host)s: %(reason)s") % {"host": target.host, "reason": _reason(exc)}
                continue
            connection.request("POST", target.path, body=body, headers={**headers, "Content-Length": str(len(body))})
            answer = connection.getresponse()
            excerpt = _read_some(answer, deadline=time.monotonic() + timeout)[:500].decode("utf-8", "replace")
            error = ""
            if 300 <= answer.status < 400:
                error = _("The endpoint answered with a redirect (%(status)s); redirects are not followed.") % {
                    "status": answer.status
                }
            elif not 200 <= answer.status < 300:
                error = _("The endpoint answered %(status)s.") % {"status": answer.status}
            return done(answer.status, excerpt, error)
        except (OSError, http.client.HTTPException) as exc:
            return done(error=_("The request to %(host)s failed: %(reason)s") % {"host": target.host, "reason": _reason(exc)})
        finally:
            connection.close()
    return done(error=last_error)


def _read_some(answer, *, deadline: float) -> bytes:
    """At most RESPONSE_READ_LIMIT bytes of the answer, and no more time than the deadline allows: a
    receiver that drips its answer must not hold the delivery past its lease."""
    chunks, size = [], 0
    while size < RESPONSE_READ_LIMIT and time.monotonic() < deadline:
        chunk = answer.read1(min(8192, RESPONSE_READ_LIMIT - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return _("timed out")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return _("its TLS certificate is not valid (%(why)s)") % {"why": exc.verify_message}
    if isinstance(exc, ConnectionRefusedError):
        return _("connection refused")
    return type(exc).__name__ + (f": {exc}" if str(exc) else "")
