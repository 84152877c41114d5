"""The asset table's status cell is footage/_status.html inlined (an include per row cost more than the
row): it must say exactly what the include says, in every state, in English and in French."""

from __future__ import annotations

import re

import pytest
from django.template.loader import render_to_string
from django.utils import translation

from portal.footage.models import AssetVersion
from tests.footage.listing_helpers import rejected_upload, upload


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_inlined_status_says_what_the_include_says(world, client_for, language):
    artist = world.a.users["artist"]
    project = world.a.project
    ready = upload(project, uploader=artist, name="ready.mov")
    rejected = rejected_upload(project, uploader=artist, name="broken.mov")
    processing = upload(project, uploader=artist, name="busy.mov")
    AssetVersion.objects.filter(pk=processing.pk).update(status=AssetVersion.Status.PROCESSING)
    processing.refresh_from_db()

    html = (
        client_for(artist)
        .get(f"/s/{world.a.studio.slug}/p/{project.code}/assets/", HTTP_ACCEPT_LANGUAGE=language)
        .content.decode()
    )
    rows = {int(m.group(1)): m.group(0) for m in re.finditer(r'<tr data-asset-id="(\d+)".*?</tr>', html, re.S)}
    with translation.override(language):
        for version in (ready, rejected, processing):
            expected = render_to_string("footage/_status.html", {"version": version}).strip()
            assert expected, version.status
            assert expected in rows[version.asset_id], (version.status, rows[version.asset_id])
    assert "spinner" in rows[processing.asset_id] and "Not a video file." in rows[rejected.asset_id]
