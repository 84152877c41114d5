"""A refused download says why and who can change it (awaiting approval by whom, rejected, changes
asked for), in the page and the API; what leaves is stamped on the version row by review."""

from __future__ import annotations

from portal.footage.models import Asset
from portal.review import services
from tests.footage.helpers import make_ready_version


def make_generated(world, name: str = "comp.mov", sha: str = "b" * 64):
    version = make_ready_version(world.a.project, uploader=world.a.users["artist"], kind=Asset.Kind.GENERATED, name=name)
    version.sha256 = sha
    version.save(update_fields=["sha256"])
    return version


def download_url(world, version) -> str:
    return f"/s/{world.a.studio.slug}/p/{world.a.project.code}/download/{version.pk}/"


def test_a_pending_plate_names_the_producers_who_approve_it(world, client_for):
    version = make_generated(world)
    producer = world.a.users["producer"]
    response = client_for(world.a.users["director"]).get(download_url(world, version))
    assert response.status_code == 403
    page = response.content.decode()
    who = producer.full_name or producer.email
    assert "awaiting approval by a producer of the project" in page and who in page
    assert "Your role does not allow this" not in page  # not a matter of role
    # The same reason through the API's download link check: the version lists no download link.
    assert version.released_file is None


def test_rejected_and_changes_requested_say_so(world, client_for):
    producer = world.a.users["producer"]
    version = make_generated(world)
    services.decision_create(actor=producer, version=version, verdict="rejected", note="Wrong crowd.")
    page = client_for(producer).get(download_url(world, version)).content.decode()
    assert "was rejected in review" in page
    services.decision_create(actor=producer, version=version, verdict="changes_requested", note="Fewer people.")
    page = client_for(producer).get(download_url(world, version)).content.decode()
    assert "Changes were requested on this generated plate" in page


def test_approval_stamps_what_leaves_and_a_later_verdict_clears_it(world, client_for, settings):
    settings.C2PA_SIGN_CERT = settings.C2PA_SIGN_KEY = ""
    producer = world.a.users["producer"]
    version = make_generated(world)
    services.decision_create(actor=producer, version=version, verdict="approved")
    version.refresh_from_db()
    assert version.released_file == (version.file_key, version.sha256)
    assert (version.release_hold, version.release_note) == ("", "")
    response = client_for(producer).get(download_url(world, version))
    assert response.status_code == 200 and response["X-Content-SHA256"] == version.sha256
    services.decision_create(actor=producer, version=version, verdict="rejected", note="On second look, no.")
    version.refresh_from_db()
    assert version.released_file is None and version.released_key == ""
    assert client_for(producer).get(download_url(world, version)).status_code == 403


def test_the_refusal_is_french_in_a_french_session(world, client_for):
    version = make_generated(world)
    page = client_for(world.a.users["director"]).get(download_url(world, version), HTTP_ACCEPT_LANGUAGE="fr").content
    assert "attend l’approbation d’un producteur du projet" in page.decode()
