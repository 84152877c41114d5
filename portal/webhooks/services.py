"""Every write to webhooks: endpoints (create, change, rotate the secret, delete, send a test event),
the deliveries events make, and the delivery attempts workers carry out.

Events are turned into delivery rows inside the transaction of the change they announce (a rolled
back change announces nothing) and sent after it commits. Each delivery is tried by a worker that
claims it with a compare-and-set; a failure is retried with exponential backoff until a day after
the event, then the delivery is failed. The periodic `webhooks.dispatch_due` sends again whatever is
due and was not sent (a lost message, a restarted broker)."""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from portal import jobs
from portal.access.enforce import require
from portal.access.policy import Action
from portal.audit.services import record
from portal.projects.models import Project
from portal.webhooks import net, signing
from portal.webhooks.models import TEST_EVENT, DeliveryAttempt, Event, WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)

DESCRIPTION_MAX = 200
USER_AGENT = "AI-Studio-Partner-Portal-Webhooks/1"


# --- endpoints ----------------------------------------------------------------------------------


def _clean_events(events) -> list[str]:
    if isinstance(events, str):
        events = [events]
    chosen = [str(e) for e in (events or [])]
    unknown = sorted(set(chosen) - set(Event.values))
    if unknown:
        raise ValidationError(
            {
                "events": _("Unknown event: %(names)s. Choose from: %(known)s.")
                % {"names": ", ".join(unknown), "known": ", ".join(Event.values)}
            }
        )
    if not chosen:
        raise ValidationError({"events": _("Choose at least one event to send.")})
    return [e for e in Event.values if e in chosen]  # canonical order, no duplicates


def _clean_url(project: Project, url: str, *, exclude_pk: int | None = None) -> str:
    url = (url or "").strip()
    try:
        net.check(url)
    except net.UnsafeURL as exc:
        raise ValidationError({"url": str(exc)}) from None
    taken = WebhookEndpoint.objects.filter(project=project, url=url)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise ValidationError({"url": _("This project already sends webhooks to this URL.")})
    return url


def _clean_description(description: str | None) -> str:
    description = (description or "").strip()
    if len(description) > DESCRIPTION_MAX:
        raise ValidationError({"description": _("At most %(n)s characters.") % {"n": DESCRIPTION_MAX}})
    return description


def _require_active_project(project: Project) -> None:
    if project.is_archived:
        raise ValidationError(_("The project is archived: restore it before changing its webhooks."))


def endpoint_create(*, actor, project: Project, url: str, events, description: str = "") -> tuple[WebhookEndpoint, str]:
    """Register an endpoint. Returns it and its signing secret, which is shown this once."""
    require(actor, Action.WEBHOOKS_MANAGE, project)
    _require_active_project(project)
    events = _clean_events(events)
    description = _clean_description(description)
    url = _clean_url(project, url)
    secret = signing.new_secret()
    with transaction.atomic():
        endpoint = WebhookEndpoint(
            project=project,
            url=url,
            description=description,
            events=events,
            secret_encrypted=signing.encrypt(secret),
            secret_hint=secret[: len(signing.SECRET_PREFIX) + 4],
            created_by=actor,
        )
        endpoint.save()
        record(
            action="webhook.create",
            actor=actor,
            project=project,
            target=endpoint,
            details={"url": url, "events": events, "secret_hint": endpoint.secret_hint},
        )
    return endpoint, secret


def _locked(endpoint: WebhookEndpoint) -> WebhookEndpoint:
    return WebhookEndpoint.objects.select_for_update().select_related("project__studio").get(pk=endpoint.pk)


def endpoint_update(
    *,
    actor,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    events=None,
    description: str | None = None,
    is_active: bool | None = None,
) -> WebhookEndpoint:
    require(actor, Action.WEBHOOKS_MANAGE, endpoint.project)
    _require_active_project(endpoint.project)
    cleaned: dict[str, Any] = {}
    if url is not None:
        cleaned["url"] = _clean_url(endpoint.project, url, exclude_pk=endpoint.pk)
    if events is not None:
        cleaned["events"] = _clean_events(events)
    if description is not None:
        cleaned["description"] = _clean_description(description)
    if is_active is not None:
        cleaned["is_active"] = bool(is_active)
    with transaction.atomic():
        endpoint = _locked(endpoint)
        changes = {k: [getattr(endpoint, k), v] for k, v in cleaned.items() if getattr(endpoint, k) != v}
        if changes:
            for field, (_old, new) in changes.items():
                setattr(endpoint, field, new)
            endpoint.updated_at = timezone.now()
            endpoint.save()
            record(action="webhook.update", actor=actor, project=endpoint.project, target=endpoint, details={"changes": changes})
    return endpoint


def endpoint_rotate_secret(*, actor, endpoint: WebhookEndpoint, grace_hours: int | None = None) -> tuple[WebhookEndpoint, str]:
    """A new secret signs from now on; the old one keeps signing too (a second v1) for the grace
    window, so the receiver can be switched over without losing a delivery. 0 hours: at once."""
    require(actor, Action.WEBHOOKS_MANAGE, endpoint.project)
    _require_active_project(endpoint.project)
    grace = settings.WEBHOOKS_SECRET_GRACE_HOURS if grace_hours is None else grace_hours
    if not isinstance(grace, int) or not 0 <= grace <= settings.WEBHOOKS_SECRET_GRACE_MAX_HOURS:
        raise ValidationError(
            {"grace_hours": _("Choose a grace window of 0 to %(n)s hours.") % {"n": settings.WEBHOOKS_SECRET_GRACE_MAX_HOURS}}
        )
    secret = signing.new_secret()
    with transaction.atomic():
        endpoint = _locked(endpoint)
        now = timezone.now()
        old_hint = endpoint.secret_hint
        endpoint.previous_secret_encrypted = endpoint.secret_encrypted if grace else ""
        endpoint.previous_secret_expires_at = now + timedelta(hours=grace) if grace else None
        endpoint.secret_encrypted = signing.encrypt(secret)
        endpoint.secret_hint = secret[: len(signing.SECRET_PREFIX) + 4]
        endpoint.secret_rotated_at = now
        endpoint.updated_at = now
        endpoint.save()
        record(
            action="webhook.rotate_secret",
            actor=actor,
            project=endpoint.project,
            target=endpoint,
            details={"old_secret_hint": old_hint, "secret_hint": endpoint.secret_hint, "grace_hours": grace},
        )
    return endpoint, secret


def endpoint_delete(*, actor, endpoint: WebhookEndpoint) -> None:
    require(actor, Action.WEBHOOKS_MANAGE, endpoint.project)
    with transaction.atomic():
        endpoint = _locked(endpoint)
        record(
            action="webhook.delete",
            actor=actor,
            project=endpoint.project,
            target=endpoint,
            details={"url": endpoint.url, "events": endpoint.events, "deliveries": endpoint.deliveries.count()},
        )
        endpoint.delete()


def endpoint_send_test(*, actor, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """The "send test event" button: a webhook.test event to this one endpoint, signed and retried
    like any other."""
    require(actor, Action.WEBHOOKS_MANAGE, endpoint.project)
    with transaction.atomic():
        endpoint = _locked(endpoint)
        if not endpoint.is_active:
            raise ValidationError(_("This endpoint is disabled: enable it before sending a test event."))
        data = {"message": "A test event sent from the portal.", "sent_by": actor.email, "endpoint": endpoint.pk}

        (delivery,) = _create_deliveries(endpoint.project, TEST_EVENT, data, [endpoint])
        record(
            action="webhook.test",
            actor=actor,
            project=endpoint.project,
            target=endpoint,
            details={"delivery": delivery.pk, "event_id": str(delivery.event_id)},
        )
    return delivery


def secrets_for_signing(endpoint: WebhookEndpoint, now=None) -> list[str]:
    now = now or timezone.now()
    current = [signing.decrypt(endpoint.secret_encrypted)]
    if endpoint.previous_secret_encrypted and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now:
        current.append(signing.decrypt(endpoint.previous_secret_encrypted))
    return current


# --- events -------------------------------------------------------------------------------------


def _body(project: Project, event_type: str, event_id: uuid.UUID, data: dict, created_at) -> str:
    envelope = {
        "id": str(event_id),
        "type": event_type,
        "created_at": created_at.isoformat(),
        "studio": {"id": project.studio_id, "slug": project.studio.slug},
        "project": {"id": project.pk, "code": project.code},
        "data": data,
    }
    return json.dumps(envelope, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _create_deliveries(project: Project, event_type: str, data: dict, endpoints) -> list[WebhookDelivery]:
    now = timezone.now()
    event_id = uuid.uuid4()
    body = _body(project, event_type, event_id, data, now)
    window = timedelta(seconds=settings.WEBHOOKS_RETRY_WINDOW_SECONDS)
    deliveries = [
        WebhookDelivery(
            endpoint=endpoint,
            event_id=event_id,
            event_type=event_type,
            body=body,
            state=WebhookDelivery.State.PENDING,
            next_attempt_at=now,
            retry_until=now + window,
            created_at=now,
        )
        for endpoint in endpoints
    ]
    for delivery in deliveries:
        delivery.save()
        _enqueue_on_commit(delivery.pk)
    return deliveries


def emit(*, project: Project, event_type: str, data: Callable[[], dict[str, Any]]) -> list[WebhookDelivery]:
    """Announce an event of a project to the endpoints that asked for it. Call inside the transaction
    of the change: the deliveries commit with it and are sent after. `data` builds the payload, only
    when some endpoint wants the event (one query otherwise). A failure here is logged and never
    undoes the change being announced."""
    if event_type not in Event.values:
        raise ValueError(f"unknown webhook event {event_type}")
    endpoints = [e for e in WebhookEndpoint.objects.filter(project_id=project.pk, is_active=True) if e.wants(event_type)]
    if not endpoints:
        return []
    try:
        with transaction.atomic():
            return _create_deliveries(project, event_type, data(), endpoints)
    except Exception:  # noqa: BLE001 - a webhook must never undo the change it announces
        log.exception("webhook deliveries for %s in project %s could not be created", event_type, project.pk)
        return []


def _enqueue_on_commit(delivery_id: int, countdown: float | None = None) -> None:
    def send():
        try:
            jobs.send_task("webhooks.deliver", (delivery_id,), countdown=countdown or None, queue=settings.WEBHOOKS_QUEUE)
        except Exception:  # noqa: BLE001 - the periodic dispatch sends it again
            log.exception("webhook delivery %s could not be queued", delivery_id)

    transaction.on_commit(send)


# --- delivering ---------------------------------------------------------------------------------


def backoff_seconds(attempt: int) -> float:
    """Wait after the attempt-th failure: base * 2^(attempt-1), capped, with ±10% jitter so that
    endpoints that failed together do not all come back at once."""
    delay = min(settings.WEBHOOKS_RETRY_BASE_SECONDS * 2 ** max(attempt - 1, 0), settings.WEBHOOKS_RETRY_MAX_DELAY_SECONDS)
    return delay * random.uniform(0.9, 1.1)


def _claimable(now) -> Q:
    due = Q(state__in=WebhookDelivery.DUE) & Q(next_attempt_at__lte=now)
    lease_free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    # A worker that died in the middle of a POST leaves its claim behind: it lapses with the lease.
    dead_worker = Q(state=WebhookDelivery.State.DELIVERING, lease_until__lt=now)
    return (due & lease_free) | dead_worker


def _claim(delivery_id: int) -> tuple[WebhookDelivery, str] | None:
    now = timezone.now()
    token = uuid.uuid4().hex
    claimed = (
        WebhookDelivery.objects.filter(pk=delivery_id)
        .filter(_claimable(now))
        .update(
            state=WebhookDelivery.State.DELIVERING,
            claim_token=token,
            lease_until=now + timedelta(seconds=settings.WEBHOOKS_LEASE_SECONDS),
            attempts=F("attempts") + 1,
        )
    )
    if not claimed:
        return None
    return WebhookDelivery.objects.select_related("endpoint__project__studio").get(pk=delivery_id), token


def delivery_attempt(delivery_id: int) -> WebhookDelivery | None:
    """One POST of one delivery (the worker's job). None when it was not due or another worker has it."""
    claim = _claim(delivery_id)
    if claim is None:
        return None
    delivery, token = claim
    endpoint = delivery.endpoint
    started_at = timezone.now()
    body = delivery.body.encode()
    if not endpoint.is_active:
        response = net.Response(None, "", _("The endpoint was disabled before this event could be delivered."), 0, refused=True)
    else:
        timestamp = int(time.time())
        try:
            signature = signing.signature_header(secrets_for_signing(endpoint), timestamp, body)
        except signing.SignatureError:
            # WEBHOOKS_ENCRYPTION_KEY changed without keeping the old key: retrying cannot help.
            log.error("webhook endpoint %s: its secret cannot be decrypted with the configured keys", endpoint.pk)
            signature = None
        if signature is None:
            message = _("The signing secret cannot be decrypted with the configured key: rotate the secret.")
            response = net.Response(None, "", message, 0, refused=True)
        else:
            headers = {
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                signing.ID_HEADER: str(delivery.event_id),
                signing.EVENT_HEADER: delivery.event_type,
                signing.TIMESTAMP_HEADER: str(timestamp),
                signing.SIGNATURE_HEADER: signature,
            }
            response = net.post(endpoint.url, body, headers, timeout=settings.WEBHOOKS_TIMEOUT_SECONDS)
    ok = response.status_code is not None and 200 <= response.status_code < 300
    now = timezone.now()
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempts,
            started_at=started_at,
            duration_ms=response.duration_ms,
            status_code=response.status_code,
            error=response.error[:300],
            response_excerpt=response.body_excerpt[:500],
        )
        fields: dict[str, Any] = {
            "lease_until": None,
            "claim_token": "",
            "last_status_code": response.status_code,
            "last_error": response.error[:300],
        }
        retry_at = now + timedelta(seconds=backoff_seconds(delivery.attempts))
        if ok:
            fields.update(state=WebhookDelivery.State.SUCCEEDED, finished_at=now, next_attempt_at=None)
        elif response.refused or retry_at > delivery.retry_until:
            fields.update(state=WebhookDelivery.State.FAILED, finished_at=now, next_attempt_at=None)
        else:
            fields.update(state=WebhookDelivery.State.RETRYING, next_attempt_at=retry_at)
        updated = WebhookDelivery.objects.filter(pk=delivery.pk, claim_token=token).update(**fields)
        if updated and fields["state"] == WebhookDelivery.State.FAILED:
            record(
                action="webhook.delivery.failed",
                project=endpoint.project,
                target=delivery,
                details={
                    "endpoint": endpoint.pk,
                    "event": delivery.event_type,
                    "event_id": str(delivery.event_id),
                    "attempts": delivery.attempts,
                    "error": response.error[:300],
                },
            )
        if updated and fields["state"] == WebhookDelivery.State.RETRYING:
            _enqueue_on_commit(delivery.pk, countdown=max((retry_at - now).total_seconds(), 0.0) or None)
    delivery.refresh_from_db()
    return delivery


def delivery_redeliver(*, actor, delivery: WebhookDelivery) -> WebhookDelivery:
    """A failed delivery is tried again, with a fresh day of retries."""
    require(actor, Action.WEBHOOKS_MANAGE, delivery.endpoint.project)
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().select_related("endpoint__project__studio").get(pk=delivery.pk)
        if delivery.state != WebhookDelivery.State.FAILED:
            raise ValidationError(_("Only a failed delivery can be sent again."))
        if not delivery.endpoint.is_active:
            raise ValidationError(_("This endpoint is disabled: enable it before sending again."))
        now = timezone.now()
        delivery.state = WebhookDelivery.State.PENDING
        delivery.next_attempt_at = now
        delivery.retry_until = now + timedelta(seconds=settings.WEBHOOKS_RETRY_WINDOW_SECONDS)
        delivery.finished_at = None
        delivery.save(update_fields=["state", "next_attempt_at", "retry_until", "finished_at"])
        record(
            action="webhook.delivery.redeliver",
            actor=actor,
            project=delivery.endpoint.project,
            target=delivery,
            details={"event": delivery.event_type, "event_id": str(delivery.event_id), "attempts_before": delivery.attempts},
        )
        _enqueue_on_commit(delivery.pk)
    return delivery


def deliveries_dispatch_due(*, now=None, limit: int = 500) -> int:
    """Periodic: every due delivery (or one whose worker died) is sent again; claims make doubles no-ops."""
    now = now or timezone.now()
    ids = list(WebhookDelivery.objects.filter(_claimable(now)).order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
    for delivery_id in ids:
        try:
            jobs.send_task("webhooks.deliver", (delivery_id,), queue=settings.WEBHOOKS_QUEUE)
        except Exception:  # noqa: BLE001 - the next pass tries again
            log.exception("webhook delivery %s could not be queued", delivery_id)
    return len(ids)
