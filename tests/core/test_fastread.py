"""The list APIs' output serializers (portal.core.fastread) give exactly DRF's JSON, field by field."""

from __future__ import annotations

import json

import pytest
from rest_framework.renderers import JSONRenderer

from portal.core import fastread
from portal.footage.models import Asset, AssetVersion
from portal.review import services as review_services
from portal.review.api import NoteSerializer
from portal.review.selectors import notes_for_version
from tests.footage.helpers import make_ready_version


def _both_ways(client, url, monkeypatch) -> tuple[bytes, bytes]:
    fast = client.get(url)
    monkeypatch.setattr(fastread, "FAST_READ", False)
    plain = client.get(url)
    monkeypatch.setattr(fastread, "FAST_READ", True)
    assert fast.status_code == plain.status_code == 200
    return fast.content, plain.content


@pytest.fixture
def reviewed(world):
    """A ready version with a note and its drawing, a reply, a mention and a resolved note; a generated
    asset; an asset whose only version is still uploading."""
    producer, artist = world.a.users["producer"], world.a.users["artist"]
    version = make_ready_version(world.a.project, uploader=artist, name="shot_010.mov")
    AssetVersion.objects.filter(pk=version.pk).update(
        media_info={"kind": "video", "video": {"frame_rate": "24000/1001", "frame_count": 96}, "audio_tracks": 1},
        proxy_key="proxies/x.mp4",
    )
    version.refresh_from_db()
    make_ready_version(world.a.project, uploader=artist, kind=Asset.Kind.GENERATED, name="gen.mov")
    waiting = make_ready_version(world.a.project, uploader=artist, name="late.mov")
    AssetVersion.objects.filter(pk=waiting.pk).update(status=AssetVersion.Status.UPLOADING, ready_at=None)
    first = review_services.note_create(
        actor=producer,
        version=version,
        frame_start=12,
        frame_end=30,
        text=f"Edge flicker, @{artist.email} please look",
        shapes=[{"type": "rect", "points": [[0.1, 0.2], [0.4, 0.6]]}],
    )
    review_services.note_create(actor=artist, version=version, frame_start=None, text="On it", parent=first)
    second = review_services.note_create(actor=artist, version=version, frame_start=40, text="Colour shift")
    review_services.note_set_resolved(actor=producer, note=second, resolved=True)
    return version


def test_assets_api_is_unchanged(world, reviewed, client_for, monkeypatch):
    client = client_for(world.a.users["producer"])
    fast, plain = _both_ways(client, f"/api/v1/projects/{world.a.project.pk}/assets/", monkeypatch)
    assert fast == plain and b"shot_010.mov" in fast and b'"latest_version":' in fast


def test_notes_api_is_unchanged(world, reviewed, client_for, monkeypatch):
    client = client_for(world.a.users["producer"])
    url = f"/api/v1/projects/{world.a.project.pk}/versions/{reviewed.pk}/notes/"
    fast, plain = _both_ways(client, url, monkeypatch)
    assert fast == plain
    for piece in (b"Edge flicker", b"On it", b'"resolved":true', b'"rect"', world.a.users["artist"].email.encode()):
        assert piece in fast
    # and what DRF makes of the notes read the plain way (replies and mentions behind their managers)
    monkeypatch.setattr(fastread, "FAST_READ", False)
    expected = JSONRenderer().render(NoteSerializer(list(notes_for_version(reviewed)), many=True).data)
    assert json.loads(fast)["results"] == json.loads(expected)


def test_audit_api_is_unchanged(world, reviewed, client_for, monkeypatch):
    client = client_for(world.a.users["studio_admin"])
    fast, plain = _both_ways(client, f"/api/v1/studios/{world.a.studio.pk}/audit-events/", monkeypatch)
    assert fast == plain and b"review.note" in fast
