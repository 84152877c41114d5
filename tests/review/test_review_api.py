"""Review through the API as people use it: notes, drawings, threads, findings, the approval gate,
exports and batched notifications, with the bad input the issue lists."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.footage.models import Asset
from portal.review import services
from portal.review.models import Decision, Note, Notification
from tests.footage.helpers import make_ready_version


@pytest.fixture
def version(world):
    v = make_ready_version(world.a.project, uploader=world.a.users["artist"])
    v.media_info = {
        "kind": "video",
        "duration": 4.0,
        "video": {"width": 64, "height": 36, "frame_rate": "30000/1001", "frame_count": 120, "start_timecode": "01:00:00;00"},
    }
    v.save(update_fields=["media_info"])
    return v


@pytest.fixture
def generated(world):
    v = make_ready_version(world.a.project, uploader=world.a.users["artist"], kind=Asset.Kind.GENERATED, name="comp.mov")
    v.sha256 = "a" * 64
    v.save(update_fields=["sha256"])
    return v


def notes_url(world, version) -> str:
    return f"/api/v1/projects/{world.a.project.pk}/versions/{version.pk}/notes/"


def decisions_url(world, version) -> str:
    return f"/api/v1/projects/{world.a.project.pk}/versions/{version.pk}/decisions/"


ARROW = {"type": "arrow", "points": [[0.1, 0.2], [0.5, 0.5]], "color": "#ff0000"}


def test_note_with_drawing_at_a_frame(api_for, world, version):
    api = api_for(world.a.users["director"])
    response = api.post(notes_url(world, version), {"frame_start": 42, "text": "Boom in shot", "shapes": [ARROW]}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["frame_start"] == 42 and body["shapes"] == [ARROW] and body["source"] == "human"
    assert body["timecode"] == "01:00:01;12"  # 01:00:00;00 + 42 frames at 29.97 DF
    listed = api_for(world.a.users["viewer"]).get(notes_url(world, version)).json()["results"]
    assert [n["id"] for n in listed] == [body["id"]]
    assert AuditEvent.objects.filter(action="review.note.create", actor=world.a.users["director"]).count() == 1


def test_range_note_and_threads(api_for, world, version):
    api = api_for(world.a.users["director"])
    first = api.post(notes_url(world, version), {"frame_start": 10, "frame_end": 20, "text": "Flicker"}, format="json").json()
    reply = api_for(world.a.users["artist"]).post(
        notes_url(world, version), {"parent": first["id"], "text": "Fixing"}, format="json"
    )
    assert reply.status_code == 201
    assert reply.json()["frame_start"] == 10 and reply.json()["frame_end"] == 20
    # a reply to a reply joins the same thread
    nested = api.post(notes_url(world, version), {"parent": reply.json()["id"], "text": "Thanks"}, format="json").json()
    thread = api.get(notes_url(world, version)).json()["results"]
    assert len(thread) == 1 and [r["id"] for r in thread[0]["replies"]] == [reply.json()["id"], nested["id"]]
    # the author of the first note hears about the reply
    assert Notification.objects.filter(user=world.a.users["director"], verb="reply").count() == 1
    # resolve / reopen
    assert api.post(f"{notes_url(world, version)}{first['id']}/resolve/").json()["resolved"] is True
    assert api.post(f"{notes_url(world, version)}{first['id']}/resolve/").status_code == 400
    assert api.post(f"{notes_url(world, version)}{first['id']}/reopen/").json()["resolved"] is False


def test_mentions_notify_project_members_only(api_for, world, version):
    api = api_for(world.a.users["director"])
    text = f"@{world.a.users['producer'].email} and @{world.b.users['producer'].email} look"
    note = api.post(notes_url(world, version), {"frame_start": 1, "text": text}, format="json").json()
    assert note["mentions"] == [world.a.users["producer"].email]
    assert Notification.objects.filter(user=world.a.users["producer"], verb="mention").count() == 1
    assert not Notification.objects.filter(user=world.b.users["producer"]).exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"frame_start": 120, "text": "past the end"}, "frame_start"),
        ({"frame_start": -1, "text": "negative"}, "frame_start"),
        ({"frame_start": 30, "frame_end": 10, "text": "backwards"}, "frame_end"),
        ({"frame_start": 3, "text": "   "}, "text"),
        ({"frame_start": 3, "text": "x", "shapes": [{"type": "arrow", "points": [[0.1, 0.1], [1.5, 0.2]]}]}, "shapes"),
        ({"frame_start": 3, "text": "x", "shapes": [{"type": "freehand", "points": [[0.5, 0.5]] * 2001}]}, "shapes"),
        ({"frame_start": 3, "text": "x", "shapes": [{"type": "rect", "points": [[0.1, 0.1]]}]}, "shapes"),
        ({"frame_start": 3, "text": "x", "shapes": [{"type": "laser", "points": [[0.1, 0.1]]}]}, "shapes"),
        ({"frame_start": 3, "text": "x", "shapes": [{"type": "text", "points": [[0.1, 0.1]], "text": ""}]}, "shapes"),
        ({"frame_start": 3, "text": "x", "shapes": [ARROW] * 51}, "shapes"),
        ({"frame_start": 3, "text": "x", "author": 1}, "author"),
    ],
)
def test_bad_notes_are_refused_clearly_and_nothing_is_written(api_for, world, version, payload, field):
    response = api_for(world.a.users["director"]).post(notes_url(world, version), payload, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()
    assert not Note.objects.exists()


def test_script_in_note_text_stays_text_in_api_and_exports(api_for, client_for, world, version):
    evil = '<script>alert(1)</script> =HYPERLINK("http://x")'
    api = api_for(world.a.users["director"])
    api.post(notes_url(world, version), {"frame_start": 5, "text": evil}, format="json")
    assert api.get(notes_url(world, version)).json()["results"][0]["text"] == evil  # JSON carries it as data
    page = client_for(world.a.users["director"])
    base = f"/s/{world.a.studio.slug}/p/{world.a.project.code}/review/{version.pk}"
    rows = list(csv.reader(io.StringIO(page.get(f"{base}/notes.csv").content.decode())))
    assert rows[1][8] == evil  # starts with "<", not a formula: kept as is
    api.post(notes_url(world, version), {"frame_start": 6, "text": "=cmd|' /C calc'!A0"}, format="json")
    rows = list(csv.reader(io.StringIO(page.get(f"{base}/notes.csv").content.decode())))
    assert rows[2][8].startswith("'=")  # a formula is defused
    edl = page.get(f"{base}/notes.edl").content.decode()
    assert "<script>" in edl and "\n* LOC:" in edl.replace("\r", "")
    assert all(line.startswith(("TITLE", "FCM", "001", "*", "")) for line in edl.splitlines())


def test_exports_put_markers_at_the_right_timecodes(client_for, api_for, world, version):
    import opentimelineio as otio

    api = api_for(world.a.users["director"])
    api.post(notes_url(world, version), {"frame_start": 42, "text": "Boom"}, format="json")
    api.post(notes_url(world, version), {"frame_start": 100, "frame_end": 110, "text": "Flash"}, format="json")
    base = f"/s/{world.a.studio.slug}/p/{world.a.project.code}/review/{version.pk}"
    page = client_for(world.a.users["viewer"])
    response = page.get(f"{base}/notes.otio")
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
    timeline = otio.adapters.read_from_string(response.content.decode(), "otio_json")
    clip = next(iter(timeline.tracks[0]))
    markers = sorted(clip.markers, key=lambda m: m.marked_range.start_time.value)
    start = 107892  # 01:00:00;00 at 29.97 DF
    assert [m.marked_range.start_time.value for m in markers] == [start + 42, start + 100]
    assert markers[1].marked_range.duration.value == 11
    assert markers[0].metadata["portal"]["timecode"] == "01:00:01;12"
    edl = page.get(f"{base}/notes.edl").content.decode()
    assert "FCM: DROP FRAME" in edl
    assert "* LOC: 01:00:01;12 RED" in edl  # record side starts at 01:00:00;00
    assert page.get(f"{base}/notes.pdf").status_code == 404


def test_machine_findings_are_apart_and_decided_by_reviewers(api_for, world, version):
    notes = services.findings_import(
        run=None,
        version=version,
        findings=[
            {
                "type": "costume",
                "frame": 30,
                "confidence": 0.87,
                "explanation": "Jacket colour changed",
                "box": [0.2, 0.3, 0.2, 0.4],
            }
        ],
    )
    api = api_for(world.a.users["viewer"])
    machine = api.get(notes_url(world, version) + "?source=machine").json()["results"]
    human = api.get(notes_url(world, version) + "?source=human").json()["results"]
    assert human == [] and machine[0]["source"] == "machine" and machine[0]["author"] is None
    assert machine[0]["confidence"] == pytest.approx(0.87) and machine[0]["finding_state"] == "open"
    assert machine[0]["shapes"][0]["type"] == "rect"
    assert api.post(f"{notes_url(world, version)}{notes[0].pk}/accept/").json()["finding_state"] == "accepted"
    assert api.post(f"{notes_url(world, version)}{notes[0].pk}/dismiss/").json()["finding_state"] == "dismissed"
    person = api.post(notes_url(world, version), {"frame_start": 1, "text": "mine"}, format="json").json()
    assert api.post(f"{notes_url(world, version)}{person['id']}/accept/").status_code == 400


# --- approval ---------------------------------------------------------------------------------


def test_only_producers_decide_and_the_gate_opens_on_approval(api_for, client_for, world, generated):
    base = f"/s/{world.a.studio.slug}/p/{world.a.project.code}"
    download = f"{base}/download/{generated.pk}/"
    for role in ("producer", "director", "artist"):
        assert client_for(world.a.users[role]).get(download).status_code == 403
    assert (
        "download"
        not in api_for(world.a.users["producer"])
        .get(f"/api/v1/projects/{world.a.project.pk}/versions/{generated.pk}/")
        .json()["links"]
    )
    director = api_for(world.a.users["director"])
    assert director.post(decisions_url(world, generated), {"verdict": "approved"}, format="json").status_code == 403
    producer = api_for(world.a.users["producer"])
    assert producer.post(decisions_url(world, generated), {"verdict": "rejected"}, format="json").status_code == 400
    assert (
        producer.post(decisions_url(world, generated), {"verdict": "approved", "sha256": "b" * 64}, format="json").status_code
        == 409
    )
    response = producer.post(decisions_url(world, generated), {"verdict": "approved", "sha256": "a" * 64}, format="json")
    assert response.status_code == 201 and response.json()["sha256"] == "a" * 64
    listed = producer.get(decisions_url(world, generated)).json()
    assert listed["state"] == "approved" and listed["released"] is True
    assert client_for(world.a.users["artist"]).get(download).status_code == 200
    assert client_for(world.a.users["viewer"]).get(download).status_code == 403  # viewers never download
    assert AuditEvent.objects.filter(action="review.decision.approved", actor=world.a.users["producer"]).count() == 1
    # the uploader hears about it
    assert Notification.objects.filter(user=world.a.users["artist"], verb="decision").count() == 1


def test_approval_is_bound_to_the_bytes(world, generated, client_for):
    services.decision_create(actor=world.a.users["producer"], version=generated, verdict="approved")
    assert services.is_released(generated)
    generated.sha256 = "c" * 64  # other bytes (a re-ingest): the old approval does not carry over
    generated.save(update_fields=["sha256"])
    assert services.approval_state(generated) == "pending" and not services.is_released(generated)
    url = f"/s/{world.a.studio.slug}/p/{world.a.project.code}/download/{generated.pk}/"
    assert client_for(world.a.users["producer"]).get(url).status_code == 403


def test_out_of_date_version_cannot_be_approved(world, generated):
    from portal.footage.models import AssetVersion

    AssetVersion.objects.create(asset=generated.asset, number=2, status="ready", sha256="d" * 64)
    from portal.core.errors import Conflict

    with pytest.raises(Conflict, match="out of date"):
        services.decision_create(actor=world.a.users["producer"], version=generated, verdict="approved")
    assert not Decision.objects.exists()


def test_footage_needs_no_approval(world, version, client_for):
    assert services.approval_state(version) == "not_required"
    url = f"/s/{world.a.studio.slug}/p/{world.a.project.code}/download/{version.pk}/"
    assert client_for(world.a.users["artist"]).get(url).status_code == 200
    with pytest.raises(Exception, match="Only generated plates"):
        services.decision_create(actor=world.a.users["producer"], version=version, verdict="approved")


def test_other_studio_cannot_reach_notes_or_decisions(api_for, world, version, generated):
    outsider = api_for(world.b.users["producer"])
    assert outsider.get(notes_url(world, version)).status_code == 404
    assert outsider.post(decisions_url(world, generated), {"verdict": "approved"}, format="json").status_code == 404
    # another studio's version under one's own project
    own = f"/api/v1/projects/{world.b.project.pk}/versions/{version.pk}/notes/"
    assert outsider.get(own).status_code == 404
    assert outsider.post(own, {"frame_start": 1, "text": "x"}, format="json").status_code == 404


# --- notifications ----------------------------------------------------------------------------


def test_at_most_one_email_per_person_and_project_per_interval(api_for, world, version, settings):
    settings.REVIEW_EMAIL_INTERVAL_MINUTES = 5
    producer = world.a.users["producer"]
    api = api_for(world.a.users["director"])
    for i in range(12):
        api.post(notes_url(world, version), {"frame_start": i, "text": f"@{producer.email} look at {i}"}, format="json")
    now = timezone.now()
    assert services.notifications_email(now=now) == 1
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [producer.email]
    assert mail.outbox[0].body.count("mentioned you") == 12
    api.post(notes_url(world, version), {"frame_start": 50, "text": f"@{producer.email} one more"}, format="json")
    assert services.notifications_email(now=now + timedelta(minutes=2)) == 0  # too soon
    assert services.notifications_email(now=now + timedelta(minutes=6)) == 1
    assert len(mail.outbox) == 2 and mail.outbox[1].body.count("mentioned you") == 1


def test_notifications_api_is_the_callers_own(api_for, world, version):
    producer = world.a.users["producer"]
    api_for(world.a.users["director"]).post(
        notes_url(world, version), {"frame_start": 1, "text": f"@{producer.email} hi"}, format="json"
    )
    mine = api_for(producer).get("/api/v1/notifications/?unread=1").json()["results"]
    assert len(mine) == 1 and "frame 1" in mine[0]["text"]
    assert api_for(world.a.users["viewer"]).get("/api/v1/notifications/").json()["results"] == []
    assert api_for(producer).post("/api/v1/notifications/read/", {}, format="json").json() == {"marked": 1}
    assert api_for(producer).get("/api/v1/notifications/?unread=1").json()["results"] == []


def test_live_event_for_notes(world, version, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr("portal.live.services.publish", lambda project_id, kind, data=None: sent.append((project_id, kind, data)))
    with django_capture_on_commit_callbacks(execute=True):
        note = services.note_create(actor=world.a.users["director"], version=version, frame_start=3, text="hello")
    assert sent == [(world.a.project.pk, "review.note", {"version": version.pk, "note": note.pk, "action": "created"})]
    assert json.dumps(sent)  # plain data on the wire


def test_approval_removes_the_label_from_the_review_copies(world, tmp_path, settings, django_capture_on_commit_callbacks):
    """A real generated clip: its proxy is labelled until approval, and made again without the label after."""
    import subprocess

    import cv2

    from portal.footage import storage
    from portal.footage.services import _make_derivatives
    from studio_tools.media import probe

    settings.CELERY_TASK_ALWAYS_EAGER = True
    from portal.celery import app

    app.conf.task_always_eager = True
    try:
        clip = tmp_path / "black.mp4"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i", "color=c=black:size=320x180:rate=25:duration=1",
             "-c:v", "libx264", "-preset", "ultrafast", str(clip)],
            check=True,
        )  # fmt: skip
        version = make_ready_version(
            world.a.project, uploader=world.a.users["artist"], kind=Asset.Kind.GENERATED, name="comp.mp4"
        )
        storage.save_file(version.file_key, clip)
        version.sha256 = "e" * 64
        version.save(update_fields=["sha256"])
        fields = _make_derivatives(version, probe(clip), clip, tmp_path)
        for field, value in fields.items():
            setattr(version, field, value)
        version.save()

        def bright(key):
            capture = cv2.VideoCapture(storage.default_storage.path(key))
            ok, frame = capture.read()
            assert ok
            return (cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) > 200).mean()

        assert bright(version.proxy_key) > 0.002 and not version.filmstrip_key
        with django_capture_on_commit_callbacks(execute=True):
            services.decision_create(actor=world.a.users["producer"], version=version, verdict="approved")
        version.refresh_from_db()
        assert bright(version.proxy_key) == 0.0 and version.filmstrip_key
        assert AuditEvent.objects.filter(action="footage.rederive", target_id=str(version.pk)).count() == 1
    finally:
        app.conf.task_always_eager = False
