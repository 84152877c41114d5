"""Every read of webhooks, scoped to one project."""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q

from portal.projects.models import Project
from portal.webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint


def endpoints_for_project(project: Project):
    return (
        WebhookEndpoint.objects.filter(project=project)
        .select_related("project__studio", "created_by")
        .annotate(
            delivery_count=Count("deliveries"),
            failed_count=Count("deliveries", filter=Q(deliveries__state=WebhookDelivery.State.FAILED)),
        )
        .order_by("created_at", "pk")
    )


def endpoint_get(project: Project, endpoint_id) -> WebhookEndpoint | None:
    return WebhookEndpoint.objects.select_related("project__studio").filter(project=project, pk=endpoint_id).first()


def deliveries_for_project(project: Project, *, endpoint: WebhookEndpoint | None = None):
    rows = WebhookDelivery.objects.filter(endpoint__project=project)
    if endpoint is not None:
        rows = rows.filter(endpoint=endpoint)
    return rows.select_related("endpoint__project__studio").prefetch_related(
        Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("number"))
    )


def delivery_get(project: Project, delivery_id) -> WebhookDelivery | None:
    return deliveries_for_project(project).filter(pk=delivery_id).first()


def studio_summary(studio) -> list[dict]:
    """Per project of the studio: how many endpoints, and how many deliveries failed."""
    projects = (
        Project.objects.filter(studio=studio)
        .annotate(
            endpoint_count=Count("webhook_endpoints", distinct=True),
            failed_count=Count(
                "webhook_endpoints__deliveries",
                filter=Q(webhook_endpoints__deliveries__state=WebhookDelivery.State.FAILED),
                distinct=True,
            ),
        )
        .order_by("code")
    )
    return [{"project": p, "endpoints": p.endpoint_count, "failed": p.failed_count} for p in projects]
