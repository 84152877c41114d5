"""Signed webhooks: endpoints a studio admin registers per project, and the deliveries of project
events to them.

A delivery is one event to one endpoint: a persistent row that goes through a small state machine
(pending -> delivering -> succeeded | retrying -> delivering ... | failed) with one `DeliveryAttempt`
row per POST. The row is the truth; the broker only carries "try delivery N" (a claim is a
compare-and-set on the state and the lease, so a duplicate message is harmless)."""

from __future__ import annotations

import json
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.projects.models import Project


class Event(models.TextChoices):
    RUN_FINISHED = "run.finished", _("Tool run finished")
    OUTPUT_APPROVED = "output.approved", _("Output approved")
    OUTPUT_REJECTED = "output.rejected", _("Output rejected or changes requested")
    NOTE_ADDED = "note.added", _("Note added")
    ASSET_READY = "asset.ready", _("Asset ready")


# Not subscribable: sent only by the "send test event" button, to the one endpoint it was pressed for.
TEST_EVENT = "webhook.test"


class WebhookEndpoint(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.CharField(_("URL"), max_length=500)
    description = models.CharField(_("description"), max_length=200, blank=True)
    events = models.JSONField(default=list)
    is_active = models.BooleanField(default=True)
    # The signing secret, encrypted with the key from settings (HMAC needs the secret itself, so it
    # cannot be hashed); only its first characters are kept readable, to tell endpoints apart.
    secret_encrypted = models.TextField()
    secret_hint = models.CharField(max_length=16)
    # After a rotation the old secret still signs (a second v1 signature) until this moment.
    previous_secret_encrypted = models.TextField(blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    secret_rotated_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["project", "created_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["project", "url"], name="uniq_webhook_url_per_project")]

    def __str__(self):
        return self.url

    def wants(self, event_type: str) -> bool:
        return self.is_active and event_type in (self.events or [])


class WebhookDelivery(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERING = "delivering", _("Delivering")
        RETRYING = "retrying", _("Retrying")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    DUE = (State.PENDING, State.RETRYING)
    FINISHED = (State.SUCCEEDED, State.FAILED)

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    # The event's id: the same for every endpoint that receives it and across retries, so a receiver
    # can drop a duplicate.
    event_id = models.UUIDField(default=uuid.uuid4, editable=False)
    event_type = models.CharField(max_length=32)
    # The JSON body, frozen when the event happened: every retry sends the same bytes.
    body = models.TextField()
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Failed attempts are retried with exponential backoff until this moment (a day after the event).
    retry_until = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    # Shown to the studio admin as is: never a traceback.
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"]),
            models.Index(fields=["endpoint", "-created_at"]),
        ]

    def __str__(self):
        return f"{self.event_type} to {self.endpoint_id} ({self.state})"

    @property
    def project(self) -> Project:
        return self.endpoint.project

    @property
    def body_json(self) -> dict:
        return json.loads(self.body)


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    # The first bytes of the receiver's answer, to help whoever runs it.
    response_excerpt = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="uniq_attempt_number")]

    def __str__(self):
        return f"attempt {self.number} of delivery {self.delivery_id}"

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
