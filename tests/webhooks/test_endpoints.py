"""Endpoints through the API and the pages: studio admins only, the secret shown once and stored
encrypted, rotation with a grace window, bad input refused with a clear message and nothing
written, and every create/rotate/delete in the audit log."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.webhooks import services, signing
from portal.webhooks.models import WebhookDelivery, WebhookEndpoint


def _api(world, side="a"):
    return f"/api/v1/projects/{world.side(side).project.pk}/webhooks/"


def test_api_create_shows_the_secret_once_and_stores_it_encrypted(world, api_for, receiver):
    r = receiver([200])
    admin = world.a.users["studio_admin"]
    response = api_for(admin).post(_api(world), {"url": r.url, "events": ["note.added", "asset.ready"]}, format="json")
    assert response.status_code == 201, response.content
    secret = response.json()["secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    endpoint = WebhookEndpoint.objects.get(pk=response.json()["id"])
    assert secret not in endpoint.secret_encrypted and signing.decrypt(endpoint.secret_encrypted) == secret
    assert response.json()["secret_hint"] == secret[:10]

    listed = api_for(admin).get(_api(world)).json()
    assert secret not in json.dumps(listed)
    detail = api_for(admin).get(f"{_api(world)}{endpoint.pk}/").json()
    assert "secret" not in detail and detail["events"] == ["note.added", "asset.ready"]
    # nothing in the audit log gives the secret away
    rows = AuditEvent.objects.filter(action__startswith="webhook.")
    assert rows.filter(action="webhook.create").count() == 1
    assert all(secret not in json.dumps(row.details) for row in rows)


@pytest.mark.parametrize(
    "body, field, message",
    [
        ({"url": "not a url", "events": ["note.added"]}, "url", "spaces"),
        ({"url": "ftp://example.com/x", "events": ["note.added"]}, "url", "https://"),
        ({"url": "http://127.0.0.1:9/x", "events": []}, "events", ""),
        ({"url": "http://127.0.0.1:9/x", "events": ["note.deleted"]}, "events", ""),
        ({"url": "http://127.0.0.1:9/x", "events": ["note.added"], "is_active": False}, "is_active", "Unknown field"),
        ({"url": "http://unresolvable.invalid/x", "events": ["note.added"]}, "url", "could not be resolved"),
    ],
)
def test_api_refuses_bad_input_with_a_message_and_writes_nothing(world, api_for, body, field, message):
    response = api_for(world.a.users["studio_admin"]).post(_api(world), body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert message in json.dumps(response.json())
    assert not WebhookEndpoint.objects.exists()
    assert not AuditEvent.objects.filter(action="webhook.create").exists()


def test_api_refuses_a_url_registered_twice(world, api_for, receiver):
    r = receiver([200])
    api = api_for(world.a.users["studio_admin"])
    assert api.post(_api(world), {"url": r.url, "events": ["note.added"]}, format="json").status_code == 201
    again = api.post(_api(world), {"url": r.url, "events": ["asset.ready"]}, format="json")
    assert again.status_code == 400 and "already" in again.json()["url"][0]
    assert WebhookEndpoint.objects.count() == 1


def test_only_studio_admins_manage_webhooks(world, api_for, receiver):
    r = receiver([200])
    for role in ("producer", "director", "artist", "viewer", "member"):
        user = world.a.users[role]
        with pytest.raises((PermissionDenied, Http404)):
            services.endpoint_create(actor=user, project=world.a.project, url=r.url, events=["note.added"])
        answer = api_for(user).post(_api(world), {"url": r.url, "events": ["note.added"]}, format="json")
        assert answer.status_code in (403, 404), (role, answer.status_code)
        assert api_for(user).get(_api(world)).status_code in (403, 404)
    # another studio's admin does not even learn the project exists
    assert api_for(world.b.users["studio_admin"]).get(_api(world)).status_code == 404
    assert not WebhookEndpoint.objects.exists()
    assert AuditEvent.objects.filter(action="access.denied", details__attempted="webhooks.manage").count() >= 10


def test_rotation_signs_with_both_secrets_during_the_grace_window(world, receiver, api_for, django_capture_on_commit_callbacks):
    r = receiver([200])
    admin = world.a.users["studio_admin"]
    endpoint, old = services.endpoint_create(actor=admin, project=world.a.project, url=r.url, events=["note.added"])
    answer = api_for(admin).post(f"{_api(world)}{endpoint.pk}/rotate-secret/", {"grace_hours": 24}, format="json")
    assert answer.status_code == 200, answer.content
    new = answer.json()["secret"]
    assert new != old and answer.json()["previous_secret_valid_until"]

    delivery = services.endpoint_send_test(actor=admin, endpoint=endpoint)
    services.delivery_attempt(delivery.pk)
    (request,) = r.wait_for(1)
    header = request.headers[signing.SIGNATURE_HEADER]
    assert header.count("v1=") == 2
    signing.verify(new, header, request.body)
    signing.verify(old, header, request.body)  # a receiver not switched over yet still verifies

    # after the grace window only the new secret signs
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(previous_secret_expires_at=timezone.now() - timedelta(seconds=1))
    services.delivery_attempt(services.endpoint_send_test(actor=admin, endpoint=endpoint).pk)
    _first, second = r.wait_for(2)
    assert second.headers[signing.SIGNATURE_HEADER].count("v1=") == 1
    signing.verify(new, second.headers[signing.SIGNATURE_HEADER], second.body)
    with pytest.raises(signing.SignatureError):
        signing.verify(old, second.headers[signing.SIGNATURE_HEADER], second.body)

    # grace 0: the old secret stops at once
    endpoint, newest = services.endpoint_rotate_secret(actor=admin, endpoint=endpoint, grace_hours=0)
    assert endpoint.previous_secret_encrypted == "" and endpoint.previous_secret_expires_at is None
    with pytest.raises(ValidationError):
        services.endpoint_rotate_secret(actor=admin, endpoint=endpoint, grace_hours=10_000)

    rotations = AuditEvent.objects.filter(action="webhook.rotate_secret", target_id=str(endpoint.pk)).order_by("seq")
    assert [row.details["grace_hours"] for row in rotations] == [24, 0]
    assert all(s not in json.dumps(row.details) for row in rotations for s in (old, new, newest))


def test_delete_is_audited_and_takes_the_log_with_it(world, receiver, api_for):
    r = receiver([200])
    admin = world.a.users["studio_admin"]
    endpoint, _secret = services.endpoint_create(actor=admin, project=world.a.project, url=r.url, events=["note.added"])
    services.endpoint_send_test(actor=admin, endpoint=endpoint)
    assert api_for(admin).delete(f"{_api(world)}{endpoint.pk}/").status_code == 204
    assert not WebhookEndpoint.objects.exists() and not WebhookDelivery.objects.exists()
    row = AuditEvent.objects.get(action="webhook.delete")
    assert row.details["url"] == r.url and row.details["deliveries"] == 1 and row.actor == admin


def test_api_test_event_and_delivery_log(world, receiver, api_for, eager_celery, django_capture_on_commit_callbacks):
    r = receiver([500, 200])
    admin = world.a.users["studio_admin"]
    api = api_for(admin)
    created = api.post(_api(world), {"url": r.url, "events": ["note.added"]}, format="json").json()
    with django_capture_on_commit_callbacks(execute=True):
        sent = api.post(f"{_api(world)}{created['id']}/test/")
    assert sent.status_code == 202, sent.content
    assert sent.json()["event_type"] == "webhook.test"
    (request,) = r.wait_for(1)
    signing.verify(created["secret"], request.headers[signing.SIGNATURE_HEADER], request.body)
    assert json.loads(request.body)["data"]["sent_by"] == admin.email

    log = api.get(f"{_api(world)}{created['id']}/deliveries/").json()
    (delivery,) = log["results"] if isinstance(log, dict) else log
    assert delivery["state"] == "retrying" and delivery["attempts"] == 1 and delivery["last_status_code"] == 500
    assert (
        delivery["attempt_log"][0]["status_code"] == 500 and delivery["attempt_log"][0]["response_excerpt"] == "receiver says no"
    )
    assert delivery["payload"]["type"] == "webhook.test"

    # redeliver is for failed deliveries only
    refused = api.post(f"{_api(world)}{created['id']}/deliveries/{delivery['id']}/redeliver/")
    assert refused.status_code == 400 and "failed" in refused.json()["detail"]
    WebhookDelivery.objects.filter(pk=delivery["id"]).update(state="failed", next_attempt_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        again = api.post(f"{_api(world)}{created['id']}/deliveries/{delivery['id']}/redeliver/")
    assert again.status_code == 202, again.content
    r.wait_for(2)
    assert WebhookDelivery.objects.get(pk=delivery["id"]).state == "succeeded"
    assert AuditEvent.objects.filter(action="webhook.delivery.redeliver").count() == 1

    # another project's delivery ids answer 404 through this endpoint's log
    assert api.get(f"/api/v1/projects/{world.b.project.pk}/webhooks/{created['id']}/deliveries/").status_code == 404


def test_disabled_endpoint_cannot_send_a_test(world, receiver):
    r = receiver([200])
    admin = world.a.users["studio_admin"]
    endpoint, _secret = services.endpoint_create(actor=admin, project=world.a.project, url=r.url, events=["note.added"])
    services.endpoint_update(actor=admin, endpoint=endpoint, is_active=False)
    with pytest.raises(ValidationError, match="disabled"):
        services.endpoint_send_test(actor=admin, endpoint=endpoint)


# --- pages ----------------------------------------------------------------------------------------


def _project_url(world):
    return reverse("projects:detail", kwargs={"studio": world.a.studio.slug, "project": world.a.project.code})


def _page(name, world, **kwargs):
    return reverse(f"webhooks:{name}", kwargs={"studio": world.a.studio.slug, "project": world.a.project.code, **kwargs})


def test_page_register_shows_the_secret_once_then_only_its_hint(world, client_for, receiver):
    r = receiver([200])
    client = client_for(world.a.users["studio_admin"])
    page = client.get(_project_url(world)).content.decode()
    assert 'id="webhooks"' in page and "Add an endpoint" in page

    answer = client.post(
        _page("create", world), {"url": r.url, "description": "Pipeline", "events": ["note.added", "asset.ready"]}
    )
    assert answer.status_code == 200
    assert answer["Cache-Control"] == "no-store"
    endpoint = WebhookEndpoint.objects.get()
    secret = signing.decrypt(endpoint.secret_encrypted)
    assert secret in answer.content.decode()

    page = client.get(_project_url(world)).content.decode()
    assert r.url in page and endpoint.secret_hint in page and secret not in page


def test_page_refuses_bad_input_with_a_message_and_writes_nothing(world, client_for, production_rules):
    client = client_for(world.a.users["studio_admin"])
    answer = client.post(_page("create", world), {"url": "https://10.0.0.1/hook", "events": ["note.added"]}, follow=True)
    text = answer.content.decode()
    assert "The endpoint was not registered" in text and "public addresses" in text
    answer = client.post(_page("create", world), {"url": "https://example.com/hook"}, follow=True)
    assert "Choose at least one event" in answer.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_page_section_is_for_studio_admins_only(world, client_for):
    for role in ("producer", "artist", "viewer"):
        page = client_for(world.a.users[role]).get(_project_url(world)).content.decode()
        assert 'id="webhooks"' not in page
        assert client_for(world.a.users[role]).post(_page("create", world), {"url": "x"}).status_code == 403


def test_page_test_button_and_delivery_log(world, client_for, receiver, eager_celery, django_capture_on_commit_callbacks):
    r = receiver([200])
    admin = world.a.users["studio_admin"]
    endpoint, secret = services.endpoint_create(actor=admin, project=world.a.project, url=r.url, events=["note.added"])
    client = client_for(admin)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(_page("test", world, endpoint_id=endpoint.pk))
    assert answer.status_code == 302
    answer = client.get(answer["Location"])
    assert answer.status_code == 200
    (request,) = r.wait_for(1)
    signing.verify(secret, request.headers[signing.SIGNATURE_HEADER], request.body)
    text = answer.content.decode()
    assert "webhook.test" in text and 'data-state="succeeded"' in text and "HTTP 200" in text

    answer = client.post(_page("rotate", world, endpoint_id=endpoint.pk), {"grace_hours": "2"})
    assert answer.status_code == 200 and answer["Cache-Control"] == "no-store"
    endpoint.refresh_from_db()
    assert signing.decrypt(endpoint.secret_encrypted) in answer.content.decode()

    client.post(_page("delete", world, endpoint_id=endpoint.pk))
    assert not WebhookEndpoint.objects.exists()
    assert list(
        AuditEvent.objects.filter(action__in=["webhook.create", "webhook.test", "webhook.rotate_secret", "webhook.delete"])
        .order_by("seq")
        .values_list("action", flat=True)
    ) == [
        "webhook.create",
        "webhook.test",
        "webhook.rotate_secret",
        "webhook.delete",
    ]


def test_studio_settings_list_webhooks_per_project(world, client_for, receiver):
    r = receiver([200])
    admin = world.a.users["studio_admin"]
    services.endpoint_create(actor=admin, project=world.a.project, url=r.url, events=["note.added"])
    page = client_for(admin).get(reverse("studios:dashboard", kwargs={"studio": world.a.studio.slug})).content.decode()
    assert 'id="studio-webhooks"' in page and f'{world.a.project.code}</code></a></td>\n        <td class="num">1</td>' in page
