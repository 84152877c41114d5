from __future__ import annotations

from datetime import datetime, time

from django.utils import timezone

from portal.audit.models import AuditEvent


def audit_events(studio, *, actor: str = "", action: str = "", project_id=None, date_from=None, date_to=None):
    """A studio's audit events, newest first, with the filters of the audit page."""
    qs = AuditEvent.objects.filter(studio=studio).select_related("project")
    if actor:
        qs = qs.filter(actor_email__icontains=actor.strip())
    if action:
        qs = qs.filter(action__startswith=action.strip())
    if project_id:
        qs = qs.filter(project_id=project_id)
    if date_from:
        qs = qs.filter(created_at__gte=timezone.make_aware(datetime.combine(date_from, time.min)))
    if date_to:
        qs = qs.filter(created_at__lte=timezone.make_aware(datetime.combine(date_to, time.max)))
    return qs.order_by("-created_at", "-id")


def audit_action_names(studio) -> list[str]:
    # order_by(): the model's ordering would put created_at and id into the DISTINCT, which then
    # returned every row of the studio (2,400 rows read and thrown away for a dozen names).
    return list(AuditEvent.objects.filter(studio=studio).order_by("action").values_list("action", flat=True).distinct())
