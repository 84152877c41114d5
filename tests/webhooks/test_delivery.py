"""Deliveries against a real HTTP receiver on 127.0.0.1: the event reaches it, the signature
verifies, a 500 makes it retry (then succeed), a day of failures ends in "failed", and the SSRF
guard stops a name that resolves to a local address at delivery time."""

from __future__ import annotations

import json
import socket
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.review.services import note_create
from portal.webhooks import net, services, signing
from portal.webhooks.models import DeliveryAttempt, WebhookDelivery
from tests.footage.helpers import make_ready_version


@pytest.fixture
def version(world):
    return make_ready_version(world.a.project, uploader=world.a.users["artist"])


def _register(world, url, events=("note.added",)):
    return services.endpoint_create(actor=world.a.users["studio_admin"], project=world.a.project, url=url, events=list(events))


def test_note_event_reaches_the_receiver_signed_and_is_retried_after_a_500(
    world, version, receiver, settings, eager_celery, django_capture_on_commit_callbacks
):
    settings.WEBHOOKS_RETRY_BASE_SECONDS = 0  # the retry is due at once: no waiting in a test
    r = receiver([500, 200])
    endpoint, secret = _register(world, r.url)

    with django_capture_on_commit_callbacks(execute=True):
        note = note_create(actor=world.a.users["artist"], version=version, frame_start=3, text="Too dark here, lift the shadows")

    got = r.wait_for(2)
    assert len(got) == 2
    first, second = got
    assert first.path == "/hooks/portal"
    assert first.body == second.body  # a retry sends the same bytes
    for request in got:
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers[signing.EVENT_HEADER] == "note.added"
        timestamp = signing.verify(secret, request.headers[signing.SIGNATURE_HEADER], request.body)
        assert request.headers[signing.TIMESTAMP_HEADER] == str(timestamp)
        with pytest.raises(signing.SignatureError):
            signing.verify(secret, request.headers[signing.SIGNATURE_HEADER], request.body + b" ")
    assert first.headers[signing.ID_HEADER] == second.headers[signing.ID_HEADER]

    payload = json.loads(first.body)
    assert payload["type"] == "note.added"
    assert payload["id"] == first.headers[signing.ID_HEADER]
    assert payload["project"] == {"id": world.a.project.pk, "code": world.a.project.code}
    assert payload["data"]["note"]["id"] == note.pk
    assert payload["data"]["note"]["frame_start"] == 3
    assert payload["data"]["version"]["id"] == version.pk
    assert payload["data"]["version"]["links"]["api"].startswith("https://portal.example.test/api/v1/")
    assert "lift the shadows" not in first.body.decode()  # ids and states, not content

    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.state == WebhookDelivery.State.SUCCEEDED
    assert delivery.attempts == 2
    assert delivery.last_status_code == 200 and delivery.finished_at is not None
    attempts = list(DeliveryAttempt.objects.filter(delivery=delivery).values_list("number", "status_code"))
    assert attempts == [(1, 500), (2, 200)]
    assert "500" in DeliveryAttempt.objects.get(delivery=delivery, number=1).error


def test_a_failing_endpoint_backs_off_exponentially_then_fails_after_a_day(
    world, version, receiver, django_capture_on_commit_callbacks
):
    r = receiver([503])
    endpoint, _secret = _register(world, r.url)
    with django_capture_on_commit_callbacks(execute=False):
        note_create(actor=world.a.users["artist"], version=version, frame_start=0, text="note")
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.state == WebhookDelivery.State.PENDING

    waits = []
    for expected_attempt in (1, 2, 3):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            before = timezone.now()
            delivery = services.delivery_attempt(delivery.pk)
        assert delivery.state == WebhookDelivery.State.RETRYING
        assert delivery.attempts == expected_attempt
        assert len(callbacks) == 1  # the retry is queued (with its countdown) once the attempt commits
        waits.append((delivery.next_attempt_at - before).total_seconds())
        # not due yet: another message for it is a no-op and nothing is sent
        assert services.delivery_attempt(delivery.pk) is None
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert len(r.requests) == 3
    # 30 s, 60 s, 120 s (±10% jitter)
    for wait, base in zip(waits, (30, 60, 120), strict=True):
        assert base * 0.85 <= wait <= base * 1.15, waits

    # A day after the event the next failure is the last one.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(retry_until=timezone.now() + timedelta(seconds=5))
    delivery = services.delivery_attempt(delivery.pk)
    assert delivery.state == WebhookDelivery.State.FAILED
    assert delivery.attempts == 4 and delivery.next_attempt_at is None
    assert "503" in delivery.last_error
    failed = AuditEvent.objects.filter(action="webhook.delivery.failed", target_id=str(delivery.pk)).get()
    assert failed.details["attempts"] == 4


def test_backoff_schedule_covers_a_day(settings):
    """The schedule with the default settings: doubling from 30 s up to every 2 hours, for 24 hours."""
    settings.WEBHOOKS_RETRY_BASE_SECONDS, settings.WEBHOOKS_RETRY_MAX_DELAY_SECONDS = 30, 7200
    elapsed, attempts = 0.0, 1
    while True:
        wait = min(30 * 2 ** (attempts - 1), 7200)
        if elapsed + wait > 24 * 3600:
            break
        elapsed += wait
        attempts += 1
    assert 0.9 * 30 <= services.backoff_seconds(1) <= 1.1 * 30
    assert 0.9 * 7200 <= services.backoff_seconds(20) <= 1.1 * 7200
    assert attempts == 19  # 9 doubling waits (about 4.3 h), then every 2 h to the end of the day


def test_a_delivery_is_claimed_once(world, version, receiver, django_capture_on_commit_callbacks):
    r = receiver([200])
    endpoint, _secret = _register(world, r.url)
    with django_capture_on_commit_callbacks(execute=False):
        note_create(actor=world.a.users["artist"], version=version, frame_start=0, text="note")
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert services.delivery_attempt(delivery.pk).state == WebhookDelivery.State.SUCCEEDED
    assert services.delivery_attempt(delivery.pk) is None  # a duplicated message changes nothing
    assert services.deliveries_dispatch_due() == 0
    assert len(r.requests) == 1


def test_dispatch_due_resends_a_delivery_whose_message_was_lost(world, version, receiver, eager_celery):
    r = receiver([200])
    endpoint, _secret = _register(world, r.url)
    # the change commits, but its message never reaches a worker
    note_create(actor=world.a.users["artist"], version=version, frame_start=0, text="note")
    assert r.requests == []
    assert services.deliveries_dispatch_due() == 1
    r.wait_for(1)
    assert WebhookDelivery.objects.get(endpoint=endpoint).state == WebhookDelivery.State.SUCCEEDED


def test_a_worker_that_died_mid_post_leaves_a_claim_that_lapses(world, version, receiver):
    r = receiver([200])
    endpoint, _secret = _register(world, r.url)
    note_create(actor=world.a.users["artist"], version=version, frame_start=0, text="note")
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        state=WebhookDelivery.State.DELIVERING, claim_token="dead", lease_until=timezone.now() + timedelta(seconds=60), attempts=1
    )
    assert services.delivery_attempt(delivery.pk) is None  # still leased by the (dead) worker
    WebhookDelivery.objects.filter(pk=delivery.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    delivery = services.delivery_attempt(delivery.pk)
    assert delivery.state == WebhookDelivery.State.SUCCEEDED and delivery.attempts == 2


def _resolver(monkeypatch, answers: dict[str, str]):
    """Our DNS for made-up names (the real resolver for anything else)."""
    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(net.socket, "getaddrinfo", fake)


def test_ssrf_guard_checks_the_address_again_at_delivery_time(world, version, receiver, settings, monkeypatch):
    """DNS rebinding: the name resolved to a public address when the endpoint was saved, and to
    127.0.0.1 (where our receiver listens) when the event is sent. Nothing may reach the receiver."""
    r = receiver([200])
    settings.WEBHOOKS_ALLOW_LOCAL_ADDRESSES = False
    _resolver(monkeypatch, {"hooks.rebind.test": "93.184.215.14"})
    endpoint, _secret = _register(world, f"http://hooks.rebind.test:{r.port}/hooks/portal")

    _resolver(monkeypatch, {"hooks.rebind.test": "127.0.0.1"})
    note_create(actor=world.a.users["artist"], version=version, frame_start=0, text="note")
    delivery = services.delivery_attempt(WebhookDelivery.objects.get(endpoint=endpoint).pk)
    assert r.requests == []
    assert delivery.state == WebhookDelivery.State.FAILED  # a refusal is not retried
    assert delivery.last_status_code is None
    assert "127.0.0.1" in delivery.last_error and "public addresses" in delivery.last_error

    # The same delivery path with local addresses allowed (development) does reach it: the refusal
    # above is the guard's, not a broken test.
    settings.WEBHOOKS_ALLOW_LOCAL_ADDRESSES = True
    note_create(actor=world.a.users["artist"], version=version, frame_start=1, text="note")
    second = WebhookDelivery.objects.filter(endpoint=endpoint, state=WebhookDelivery.State.PENDING).get()
    assert services.delivery_attempt(second.pk).state == WebhookDelivery.State.SUCCEEDED
    assert len(r.requests) == 1


def test_production_rules_refuse_local_endpoints_at_save_and_write_nothing(world, production_rules, receiver):
    r = receiver([200])
    admin = world.a.users["studio_admin"]
    from django.core.exceptions import ValidationError

    for url in (
        r.url,  # http
        f"https://127.0.0.1:{r.port}/hooks",
        "https://10.0.0.8/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hooks",
        "https://[::ffff:127.0.0.1]/hooks",
        "https://localhost/hooks",
    ):
        with pytest.raises(ValidationError) as refused:
            services.endpoint_create(actor=admin, project=world.a.project, url=url, events=["asset.ready"])
        assert "url" in refused.value.message_dict
    assert not world.a.project.webhook_endpoints.exists()
    assert not AuditEvent.objects.filter(action="webhook.create").exists()


def test_production_rules_refuse_a_saved_endpoint_that_now_points_home(world, version, receiver, settings, monkeypatch):
    """An endpoint saved before the rules were production's (or before its name moved) is refused
    when the event is sent."""
    r = receiver([200])
    endpoint, _secret = _register(world, r.url)
    settings.PRODUCTION = True
    note_create(actor=world.a.users["artist"], version=version, frame_start=0, text="note")
    delivery = services.delivery_attempt(WebhookDelivery.objects.get(endpoint=endpoint).pk)
    assert delivery.state == WebhookDelivery.State.FAILED
    assert "https://" in delivery.last_error
    assert r.requests == []


def test_redirects_are_not_followed(world, version, receiver):
    r = receiver([302])
    endpoint, _secret = _register(world, r.url)
    note_create(actor=world.a.users["artist"], version=version, frame_start=0, text="note")
    delivery = services.delivery_attempt(WebhookDelivery.objects.get(endpoint=endpoint).pk)
    assert delivery.state == WebhookDelivery.State.RETRYING
    assert "redirect" in delivery.last_error
    assert len(r.requests) == 1


def test_a_closed_port_is_a_retryable_failure(world, version):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    endpoint, _secret = _register(world, f"http://127.0.0.1:{port}/nobody-home")
    note_create(actor=world.a.users["artist"], version=version, frame_start=0, text="note")
    delivery = services.delivery_attempt(WebhookDelivery.objects.get(endpoint=endpoint).pk)
    assert delivery.state == WebhookDelivery.State.RETRYING
    assert "connection refused" in delivery.last_error


def test_a_secret_the_configured_key_cannot_decrypt_fails_the_delivery_without_sending(world, version, receiver, settings):
    r = receiver([200])
    endpoint, _secret = _register(world, r.url)
    note_create(actor=world.a.users["artist"], version=version, frame_start=0, text="note")
    settings.WEBHOOKS_ENCRYPTION_KEYS = ["a key that never encrypted this secret"]
    delivery = services.delivery_attempt(WebhookDelivery.objects.get(endpoint=endpoint).pk)
    assert delivery.state == WebhookDelivery.State.FAILED
    assert "cannot be decrypted" in delivery.last_error
    assert r.requests == []
