"""The append-only, hash-chained audit log.

Each studio has its own chain (platform-level events, such as a failed sign-in for an unknown
address, go to the "platform" chain). Every row stores its position `seq` in the chain, the hash
of the row before it and its own hash over its content; `AuditChainHead` holds the last seq/hash
so a deleted tail is caught too. Rows are never updated or deleted: the model refuses, and on
PostgreSQL a trigger refuses (migration 0003), and the application's runtime role may only insert
and read (`manage.py grant_app_role`).

The hash is keyed: HMAC-SHA256 with AUDIT_HMAC_KEY, a key that lives outside the database, so
whoever can write the table (even its owner) cannot re-hash a rewritten chain so that it verifies.
The head of every chain is also written outside the database at intervals (`anchors.py`)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC

from django.conf import settings
from django.db import models
from django.utils import timezone

GENESIS_HASH = "0" * 64


class AppendOnlyError(Exception):
    pass


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("audit events are append-only: update refused")

    def delete(self):
        raise AppendOnlyError("audit events are append-only: delete refused")

    def _raw_delete(self, using):
        raise AppendOnlyError("audit events are append-only: delete refused")


class AuditEvent(models.Model):
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    chain = models.CharField(max_length=40)
    seq = models.PositiveBigIntegerField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_email = models.CharField(max_length=254, blank=True)
    studio = models.ForeignKey("studios.Studio", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    project = models.ForeignKey("projects.Project", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=255, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    details = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["chain", "seq"], name="uniq_audit_chain_seq")]
        indexes = [models.Index(fields=["studio", "-created_at"])]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_email or '-'} {self.action}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("audit events are append-only: update refused")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("audit events are append-only: delete refused")

    def payload(self) -> dict:
        """The content the hash covers: everything but the id and the hash itself."""
        created = self.created_at.astimezone(UTC) if self.created_at.tzinfo else self.created_at
        return {
            "chain": self.chain,
            "seq": int(self.seq),
            "created_at": created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "actor_id": self.actor_id,
            "actor_email": self.actor_email,
            "studio_id": self.studio_id,
            "project_id": self.project_id,
            "action": self.action,
            "target_type": self.target_type,
            "target_id": self.target_id,
            "target_repr": self.target_repr,
            "ip": self.ip,
            "user_agent": self.user_agent,
            "details": self.details,
            "prev_hash": self.prev_hash,
        }

    def compute_hash(self) -> str:
        blob = json.dumps(self.payload(), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
        return hmac.new(audit_key(), blob.encode(), hashlib.sha256).hexdigest()


def audit_key() -> bytes:
    """The chain's HMAC key: AUDIT_HMAC_KEY when set (production: a secret of its own, kept with the
    other secrets, never in the database), else one derived from SECRET_KEY (also outside it)."""
    configured = getattr(settings, "AUDIT_HMAC_KEY", "")
    if configured:
        return configured.encode()
    return hashlib.sha256(b"portal.audit.chain\0" + settings.SECRET_KEY.encode()).digest()


class AuditChainHead(models.Model):
    """The last link of each chain; locked FOR UPDATE while appending so chains never fork."""

    chain = models.CharField(max_length=40, unique=True)
    last_seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)

    def __str__(self):
        return f"{self.chain} @ {self.last_seq}"
