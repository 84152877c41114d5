"""The signature scheme of the portal's webhooks (documented in docs/webhooks.md).

Every delivery carries

    Portal-Webhook-Timestamp: 1764892800
    Portal-Webhook-Signature: t=1764892800,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd

where v1 is the hex HMAC-SHA256, keyed with the endpoint's secret, of the bytes
`{t}.{raw request body}`. While a rotated secret is still in its grace window the header holds one
v1 per valid secret (new first); a receiver accepts the request when any of them matches, and refuses
timestamps further than a few minutes from its clock (replays).

Secrets are kept encrypted at rest (Fernet, AES-128-CBC + HMAC-SHA256) with WEBHOOKS_ENCRYPTION_KEY."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

SIGNATURE_HEADER = "Portal-Webhook-Signature"
TIMESTAMP_HEADER = "Portal-Webhook-Timestamp"
ID_HEADER = "Portal-Webhook-Id"
EVENT_HEADER = "Portal-Webhook-Event"
SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE_SECONDS = 300


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    message = str(int(timestamp)).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secrets_: Iterable[str], timestamp: int, body: bytes) -> str:
    parts = [f"t={int(timestamp)}"] + [f"v1={sign(s, timestamp, body)}" for s in secrets_]
    return ",".join(parts)


class SignatureError(ValueError):
    pass


def verify(secret: str, header: str, body: bytes, *, tolerance: int = DEFAULT_TOLERANCE_SECONDS, now: float | None = None) -> int:
    """What a receiver does (and what the tests do): parse the header, check the timestamp is recent
    and that one v1 signature matches. Returns the timestamp; raises SignatureError otherwise."""
    timestamp = None
    candidates = []
    for item in (header or "").split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError("no timestamp or no v1 signature in the header")
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        raise SignatureError("timestamp outside the tolerance")
    expected = sign(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise SignatureError("no signature matches")
    return timestamp


# --- encryption at rest -------------------------------------------------------------------------


def _fernet_key(raw: str) -> bytes:
    """A configured Fernet key as is; anything else (a passphrase, SECRET_KEY) through SHA-256."""
    try:
        if len(base64.urlsafe_b64decode(raw.encode())) == 32:
            return raw.encode()
    except (ValueError, TypeError):
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(b"portal-webhooks:" + raw.encode()).digest())


def _cipher() -> MultiFernet:
    from django.conf import settings

    keys = [k for k in settings.WEBHOOKS_ENCRYPTION_KEYS if k]
    return MultiFernet([Fernet(_fernet_key(k)) for k in keys])


def encrypt(secret: str) -> str:
    return _cipher().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _cipher().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SignatureError("the webhook secret cannot be decrypted with the configured key") from exc
