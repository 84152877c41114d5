"""The audit page, its CSV export and the audit-events API: filters, studio scoping, formula
injection in the export, and the export itself being on the record."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from django.core.management import call_command

from portal.audit.models import AuditEvent
from portal.audit.services import record
from portal.studios import services as studio_services

CSV_HEADER = [
    "time_utc",
    "actor",
    "action",
    "project",
    "target_type",
    "target_id",
    "target",
    "ip",
    "user_agent",
    "details",
    "seq",
    "hash",
]


def page_events(response) -> list[AuditEvent]:
    assert response.status_code == 200
    return list(response.context["page"].object_list)


def audit_url(side) -> str:
    return f"/s/{side.studio.slug}/audit/"


def api_url(side) -> str:
    return f"/api/v1/studios/{side.studio.pk}/audit-events/"


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.reader(io.StringIO(body)))


@pytest.fixture
def dated(world, monkeypatch):
    """Three events in studio a on known days (and one in studio b), recorded as if at that time."""

    def at(moment: datetime, **kwargs) -> AuditEvent:
        with monkeypatch.context() as patch:
            patch.setattr("portal.audit.services.timezone", SimpleNamespace(now=lambda: moment))
            return record(**kwargs)

    a, b = world.a, world.b
    producer = a.users["producer"]
    return SimpleNamespace(
        jan10=at(datetime(2026, 1, 10, 9, 0, tzinfo=UTC), action="test.dated", actor=producer, project=a.project),
        jan31_late=at(datetime(2026, 1, 31, 23, 30, tzinfo=UTC), action="test.dated", actor=producer, studio=a.studio),
        feb05=at(datetime(2026, 2, 5, 12, 0, tzinfo=UTC), action="test.dated", actor=a.users["artist"], project=a.project),
        other_studio=at(
            datetime(2026, 1, 20, 12, 0, tzinfo=UTC), action="test.dated", actor=b.users["producer"], studio=b.studio
        ),
    )


# --- the page -------------------------------------------------------------------------------


def test_audit_page_shows_only_the_studios_own_rows(world, client_for):
    record(action="test.secret", studio=world.b.studio, details={"b": "only"})
    client = client_for(world.a.users["studio_admin"])
    response = client.get(audit_url(world.a))
    events = page_events(response)
    assert events
    assert {e.studio_id for e in events} == {world.a.studio.pk}
    assert response.context["page"].paginator.count == AuditEvent.objects.filter(studio=world.a.studio).count()
    assert page_events(client.get(audit_url(world.a), {"action": "test.secret"})) == []


def test_audit_page_filters_by_actor(world, client_for, dated):
    response = client_for(world.a.users["studio_admin"]).get(audit_url(world.a), {"actor": "producer@a"})
    events = page_events(response)
    expected = AuditEvent.objects.filter(studio=world.a.studio, actor_email="producer@a.test").count()
    assert len(events) == expected > 0
    assert {e.actor_email for e in events} == {"producer@a.test"}
    assert dated.other_studio.pk not in {e.pk for e in events}


def test_audit_page_filters_by_action_prefix(world, client_for):
    events = page_events(client_for(world.a.users["studio_admin"]).get(audit_url(world.a), {"action": "invitation."}))
    assert {e.action for e in events} == {"invitation.send", "invitation.accept"}
    assert len(events) == AuditEvent.objects.filter(studio=world.a.studio, action__startswith="invitation.").count()


def test_audit_page_filters_by_project(world, client_for, dated):
    events = page_events(client_for(world.a.users["studio_admin"]).get(audit_url(world.a), {"project": world.a.project.pk}))
    assert events
    assert {e.project_id for e in events} == {world.a.project.pk}
    assert dated.jan10 in events and dated.jan31_late not in events


def test_audit_page_filters_by_dates_inclusive_of_the_last_day(world, client_for, dated):
    client = client_for(world.a.users["studio_admin"])
    events = page_events(client.get(audit_url(world.a), {"date_from": "2026-01-15", "date_to": "2026-01-31"}))
    assert events == [dated.jan31_late]
    events = page_events(client.get(audit_url(world.a), {"date_to": "2026-02-05", "action": "test.dated"}))
    assert events == [dated.feb05, dated.jan31_late, dated.jan10]  # newest first
    events = page_events(client.get(audit_url(world.a), {"date_from": "2026-02-01", "date_to": "2026-02-28"}))
    assert events == [dated.feb05]


def test_audit_page_combines_filters(world, client_for, dated):
    params = {
        "actor": "producer@a.test",
        "action": "test.",
        "project": world.a.project.pk,
        "date_from": "2026-01-01",
        "date_to": "2026-01-31",
    }
    events = page_events(client_for(world.a.users["studio_admin"]).get(audit_url(world.a), params))
    assert events == [dated.jan10]


@pytest.mark.parametrize("role", ["member", "producer", "viewer"])
def test_audit_page_is_for_studio_admins_only(world, client_for, role):
    before = AuditEvent.objects.filter(action="access.denied").count()
    assert client_for(world.a.users[role]).get(audit_url(world.a)).status_code == 403
    assert client_for(world.a.users[role]).get(f"/s/{world.a.studio.slug}/audit.csv").status_code == 403
    assert AuditEvent.objects.filter(action="access.denied").count() == before + 2
    denial = AuditEvent.objects.filter(action="access.denied").order_by("-id").first()
    assert denial.studio_id == world.a.studio.pk
    assert denial.actor_id == world.a.users[role].pk
    assert denial.details == {"attempted": "audit.view", "answered": 403}


def test_another_studios_admin_gets_404_on_the_audit_page(world, client_for):
    client = client_for(world.b.users["studio_admin"])
    assert client.get(audit_url(world.a)).status_code == 404
    assert client.get(f"/s/{world.a.studio.slug}/audit.csv").status_code == 404


# --- CSV export -----------------------------------------------------------------------------


def test_csv_export_has_a_header_and_one_line_per_event(world, client_for):
    admin = world.a.users["studio_admin"]
    response = client_for(admin).get(f"/s/{world.a.studio.slug}/audit.csv")
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = csv_rows(response)
    assert rows[0] == CSV_HEADER
    events = list(AuditEvent.objects.filter(studio=world.a.studio).order_by("-created_at", "-id"))
    assert len(rows) - 1 == len(events)
    assert [int(r[10]) for r in rows[1:]] == [e.seq for e in events]
    assert [r[11] for r in rows[1:]] == [e.hash for e in events]
    assert not AuditEvent.objects.filter(studio=world.b.studio, hash__in=[r[11] for r in rows[1:]]).exists()


def test_csv_export_is_itself_audited(world, client_for):
    admin = world.a.users["studio_admin"]
    rows = csv_rows(client_for(admin).get(f"/s/{world.a.studio.slug}/audit.csv", {"action": "invitation."}))
    export = AuditEvent.objects.get(action="audit.export")
    assert export.actor_id == admin.pk
    assert export.studio_id == world.a.studio.pk
    assert export.details == {"filters": {"action": "invitation."}}
    assert {r[2] for r in rows[1:]} == {"invitation.send", "invitation.accept"}  # filters apply to the export
    call_command("verify_audit", stdout=io.StringIO())


def test_csv_export_neutralizes_formula_injection(world, client_for, django_capture_on_commit_callbacks):
    """An address like "=2+5@evil.test" is valid; in a spreadsheet it must stay text."""
    admin = world.a.users["studio_admin"]
    with django_capture_on_commit_callbacks(execute=True):
        studio_services.invitation_send(actor=admin, studio=world.a.studio, email="=2+5@evil.test")
    record(action="test.formula", studio=world.a.studio, actor_email="+cmd@evil.test", target="-1+2")
    record(action="test.formula", studio=world.a.studio, actor_email="ok@evil.test", target="@SUM(A1)")
    rows = csv_rows(client_for(admin).get(f"/s/{world.a.studio.slug}/audit.csv"))
    by_action = {}
    for row in rows[1:]:
        by_action.setdefault(row[2], []).append(row)
    invitation_row = by_action["invitation.send"][0]
    assert invitation_row[6] == "'=2+5@evil.test → Studio A"
    assert "=2+5@evil.test" in invitation_row[9]  # inside the details cell, which starts with "{"
    targets = {r[6] for r in by_action["test.formula"]}
    assert targets == {"'-1+2", "'@SUM(A1)"}
    assert "'+cmd@evil.test" in {r[1] for r in by_action["test.formula"]}
    for row in rows[1:]:
        for cell in row:
            assert cell[:1] not in ("=", "+", "-", "@"), row


# --- API ------------------------------------------------------------------------------------


def test_api_lists_the_studios_events_with_the_same_filters(world, api_for, dated):
    api = api_for(world.a.users["studio_admin"])
    data = api.get(api_url(world.a)).json()
    assert data["count"] == AuditEvent.objects.filter(studio=world.a.studio).count()
    ids = {e["id"] for e in data["results"]}
    assert dated.other_studio.pk not in ids

    def ids_for(**params):
        response = api.get(api_url(world.a), params)
        assert response.status_code == 200, response.content
        return [e["id"] for e in response.json()["results"]]

    assert ids_for(date_from="2026-01-15", date_to="2026-01-31") == [dated.jan31_late.pk]
    assert ids_for(action="test.dated", project=world.a.project.pk) == [dated.feb05.pk, dated.jan10.pk]
    assert ids_for(actor="artist@a.test", action="test.") == [dated.feb05.pk]
    first = api.get(api_url(world.a), {"action": "test.dated"}).json()["results"][0]
    assert set(first) >= {
        "id",
        "created_at",
        "actor_email",
        "action",
        "project",
        "target_type",
        "target_repr",
        "details",
        "seq",
        "hash",
    }


@pytest.mark.parametrize(
    "params", [{"date_from": "31/01/2026"}, {"date_to": "2026-13-01"}, {"date_from": "yesterday"}, {"project": "PRJ_A"}]
)
def test_api_refuses_a_bad_filter_with_a_clear_message(world, api_for, params):
    response = api_for(world.a.users["studio_admin"]).get(api_url(world.a), params)
    assert response.status_code == 400
    assert "YYYY-MM-DD" in str(response.json()["detail"])


def test_api_audit_events_are_scoped_like_the_page(world, api_for):
    assert api_for(world.a.users["producer"]).get(api_url(world.a)).status_code == 403
    assert api_for(world.b.users["studio_admin"]).get(api_url(world.a)).status_code == 404
    assert api_for(None).get(api_url(world.a)).status_code in (401, 403)
