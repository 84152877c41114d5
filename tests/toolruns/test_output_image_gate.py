"""A run's images go through the approval gate and are on the record (hardening finding 4).

A viewer could fetch a pending contact sheet from /runs/<id>/images/<name>/ (200, the same SHA-256 as
the gated download) six times with no audit row. Now: before approval, a copy with the label burned
in; after approval, the picture itself; each view audited.
"""

from __future__ import annotations

import hashlib
import io

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from PIL import Image, ImageStat

from portal.audit.models import AuditEvent
from portal.review.services import decision_create
from portal.toolruns import services
from tests.toolruns.test_execute import start

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_unapproved_run_image_is_labelled_and_audited_until_approved(world_tx, clip_version, client_for):
    world = world_tx
    clip = clip_version(world.a.project, world.a.users["artist"])
    run = services.toolrun_execute(start(world, clip, params={"columns": 2, "rows": 2, "thumb_width": 160}).pk)
    [output] = run.outputs.select_related("version")
    version = output.version
    with default_storage.open(version.file_key) as handle:
        original = handle.read()
    url = reverse(
        "toolruns:output_image",
        kwargs={"studio": world.a.studio.slug, "project": world.a.project.code, "run_id": run.pk, "name": output.name},
    )
    viewer = world.a.users["viewer"]
    client = client_for(viewer)

    pending = client.get(url)
    assert pending.status_code == 200 and pending["Content-Type"] == "image/png"
    assert "no-store" in pending["Cache-Control"]
    labelled = pending.content
    assert hashlib.sha256(labelled).hexdigest() != version.sha256
    picture = Image.open(io.BytesIO(labelled)).convert("L")
    plain = Image.open(io.BytesIO(original)).convert("L")
    assert picture.size == plain.size
    # the label bands: the top rows darkened, with white letters in them
    band = (0, 0, picture.width, max(4, picture.height // 20))
    assert ImageStat.Stat(picture.crop(band)).mean[0] < ImageStat.Stat(plain.crop(band)).mean[0] - 20
    assert picture.crop(band).getextrema()[1] > 200
    assert AuditEvent.objects.filter(action="footage.preview_labelled", actor=viewer).count() == 1

    decision_create(actor=world.a.users["producer"], version=version, verdict="approved")
    approved = client.get(url)
    body = b"".join(approved.streaming_content) if approved.streaming else approved.content
    assert approved.status_code == 200
    assert hashlib.sha256(body).hexdigest() == version.sha256
    assert AuditEvent.objects.filter(action="footage.preview", actor=viewer).count() == 1
