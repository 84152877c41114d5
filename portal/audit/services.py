"""audit.record(): the one way anything is written to the audit log."""

from __future__ import annotations

from typing import Any

from django.db import connection, models, transaction
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


def _lock_referenced_rows(*, studio, project, actor) -> None:
    """Lock order, step 2 of 3 (domain rows, then these, then the chain head): take now the locks
    that inserting the audit row would take anyway. PostgreSQL checks a foreign key by locking the
    referenced row FOR KEY SHARE; taken while holding the chain head, that lock waits for any
    transaction holding the project (or studio, or user) FOR UPDATE, and if that one is waiting
    for the same head, both die in a deadlock (uploads holding the project's quota lock against
    ingests finishing in the same studio did). Taken before the head, it is an ordinary wait.
    One statement; SQLite serialises whole transactions and needs none of it."""
    if connection.vendor != "postgresql":
        return
    from portal.projects.models import Project
    from portal.studios.models import Studio

    tables, where, params = [], [], []
    for model, pk in ((Studio, studio.pk if studio else None), (Project, project.pk if project else None)):
        if pk is not None:
            alias = f"t{len(tables)}"
            tables.append(f"{connection.ops.quote_name(model._meta.db_table)} {alias}")
            where.append(f"{alias}.id = %s")
            params.append(pk)
    if actor is not None:
        alias = f"t{len(tables)}"
        tables.append(f"{connection.ops.quote_name(actor._meta.db_table)} {alias}")
        where.append(f"{alias}.id = %s")
        params.append(actor.pk)
    if not tables:
        return
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {', '.join(tables)} WHERE {' AND '.join(where)} FOR KEY SHARE", params)


def _lock_head(chain: str) -> AuditChainHead:
    """Lock order, step 3 of 3: the chain head, last. One query once the chain exists."""
    head = AuditChainHead.objects.select_for_update().filter(chain=chain).first()
    if head is None:
        AuditChainHead.objects.get_or_create(chain=chain)
        head = AuditChainHead.objects.select_for_update().get(chain=chain)
    return head


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
    audit row and the change it describes commit or roll back together.

    Lock order (the same in every transaction, so two never wait for each other in a circle):
    1. the domain rows the service changes (select_for_update them before calling this; rows that
       other rows reference, a studio or a project, with no_key=True: FOR NO KEY UPDATE never blocks
       the FOR KEY SHARE that inserting a referencing row, an audit row among them, takes);
    2. the rows the audit row references (studio, project, actor), FOR KEY SHARE, here;
    3. the studio's chain head, here, last. Call record() after the transaction's last row lock:
    a lock taken after it waits while holding the head, which every audited write of the studio needs."""
    if studio is None and project is not None:
        studio = project.studio
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    ctx = request_context.current()
    chain = chain_for(studio.pk if studio else None)
    with transaction.atomic():
        _lock_referenced_rows(studio=studio, project=project, actor=actor)
        head = _lock_head(chain)
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
