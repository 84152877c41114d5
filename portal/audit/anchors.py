"""The head of every audit chain, written outside the database at intervals.

Whoever can rewrite the audit table (the database's superuser, a restored backup, the table owner)
could delete a row and rebuild every later link. The HMAC key stops them from making the rebuilt
rows verify, unless they also hold the key; the anchors stop even that: every few minutes (the
`audit.anchor_heads` task) each chain's last seq and hash are written as a small signed JSON object
to storage outside the database (AUDIT_ANCHOR_DIR, or the media storage: a local folder or an object
store bucket). `verify_audit` checks that the chain still passes through every anchor's seq with
that hash; a rewrite of anything before it changes the hash there.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.utils import timezone

from portal.audit.models import AuditChainHead, audit_key

PREFIX = "audit-anchors"


@dataclass(frozen=True)
class Anchor:
    chain: str
    seq: int
    hash: str
    written_at: str


def _storage():
    folder = getattr(settings, "AUDIT_ANCHOR_DIR", "")
    return FileSystemStorage(location=folder) if folder else default_storage


def _key(chain: str) -> str:
    return f"{PREFIX}/{chain.replace(':', '-')}.json"


def _mac(body: dict) -> str:
    blob = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hmac.new(audit_key(), b"anchor\0" + blob.encode(), hashlib.sha256).hexdigest()


def anchor_heads() -> int:
    """Writes the current head of every chain; returns how many were written."""
    storage = _storage()
    written = 0
    for head in AuditChainHead.objects.order_by("chain"):
        if head.last_seq == 0:
            continue
        body = {"chain": head.chain, "seq": head.last_seq, "hash": head.last_hash, "written_at": timezone.now().isoformat()}
        data = json.dumps({**body, "mac": _mac(body)}, sort_keys=True).encode()
        key = _key(head.chain)
        if storage.exists(key):
            storage.delete(key)
        storage.save(key, ContentFile(data))
        written += 1
    return written


class AnchorInvalid(Exception):
    pass


def read_anchor(chain: str) -> Anchor | None:
    """The anchor of a chain, None if none was written yet; AnchorInvalid if it does not verify."""
    storage = _storage()
    key = _key(chain)
    if not storage.exists(key):
        return None
    with storage.open(key, "rb") as handle:
        try:
            data = json.loads(handle.read())
            body = {k: data[k] for k in ("chain", "seq", "hash", "written_at")}
            mac = data["mac"]
        except (ValueError, KeyError, TypeError) as exc:
            raise AnchorInvalid("the anchor outside the database is unreadable") from exc
    if not hmac.compare_digest(mac, _mac(body)) or body["chain"] != chain:
        raise AnchorInvalid("the anchor outside the database does not carry the audit key's signature (forged?)")
    return Anchor(chain=body["chain"], seq=int(body["seq"]), hash=str(body["hash"]), written_at=str(body["written_at"]))
