"""audit.record(): the one way anything is written to the audit log."""

from __future__ import annotations

from typing import Any

from django.db import models, transaction
from django.utils import timezone

from portal.audit.models import AuditChainHead, AuditEvent
from portal.core import request_context

PLATFORM_CHAIN = "platform"


def chain_for(studio_id: int | None) -> str:
    return f"studio:{studio_id}" if studio_id else PLATFORM_CHAIN


def _target_fields(target: Any) -> dict:
    if target is None:
        return {"target_type": "", "target_id": "", "target_repr": ""}
    if isinstance(target, models.Model):
        return {
            "target_type": target._meta.label_lower,
            "target_id": str(target.pk),
            "target_repr": str(target)[:255],
        }
    return {"target_type": type(target).__name__.lower(), "target_id": "", "target_repr": str(target)[:255]}


def record(
    *,
    action: str,
    actor=None,
    studio=None,
    project=None,
    target: Any = None,
    details: dict | None = None,
    actor_email: str = "",
) -> AuditEvent:
    """Append one event to its studio's chain. Call inside the service's transaction, so the
    audit row and the change it describes commit or roll back together."""
    if studio is None and project is not None:
        studio = project.studio
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    ctx = request_context.current()
    chain = chain_for(studio.pk if studio else None)
    with transaction.atomic():
        head, _ = AuditChainHead.objects.get_or_create(chain=chain)
        head = AuditChainHead.objects.select_for_update().get(pk=head.pk)
        event = AuditEvent(
            created_at=timezone.now(),
            chain=chain,
            seq=head.last_seq + 1,
            actor=actor,
            actor_email=(actor.email if actor is not None else actor_email)[:254],
            studio=studio,
            project=project,
            action=action,
            ip=ctx.ip,
            user_agent=ctx.user_agent,
            details=details or {},
            prev_hash=head.last_hash,
            **_target_fields(target),
        )
        # Hash the address as the database will store it (IPv6 is normalized on save), or the
        # row would not verify when read back.
        event.ip = AuditEvent._meta.get_field("ip").get_prep_value(event.ip)
        event.hash = event.compute_hash()
        event.save()
        head.last_seq = event.seq
        head.last_hash = event.hash
        head.save(update_fields=["last_seq", "last_hash"])
    return event


def audit_export_log(*, actor, studio, filters: dict) -> AuditEvent:
    """Reading the whole log out is itself on the record."""
    return record(action="audit.export", actor=actor, studio=studio, details={"filters": filters})
