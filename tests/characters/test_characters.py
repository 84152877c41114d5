"""The character sheet: models and services (validation, audit, all-or-nothing uploads), the page,
the API (scoping, roles, bad input, schema) and a continuity run checked against the sheet."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import Http404

from portal.audit.models import AuditEvent
from portal.characters import services
from portal.characters.models import Character, CharacterReference
from portal.footage.models import Asset, AssetVersion
from portal.projects.services import project_archive
from portal.review.services import findings_import
from portal.toolruns import services as run_services
from studio_tools.core import NullProgress
from tests.footage.helpers import make_ready_version

pytestmark = pytest.mark.django_db


def upload_of(path: Path, name: str | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name or path.name, path.read_bytes())


def still_version(project, uploader, name="anna_still.jpg"):
    version = make_ready_version(project, uploader=uploader, kind=Asset.Kind.REFERENCE, name=name)
    version.media_info = {"kind": "still", "video": {"width": 320, "height": 180}}
    version.save(update_fields=["media_info"])
    return version


def stored_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


# --- services ---------------------------------------------------------------------------------


def test_create_is_audited_and_names_are_unique_per_project_ignoring_case(world):
    artist = world.a.users["artist"]
    anna = services.character_create(actor=artist, project=world.a.project, name="  Anna   Karenina ", notes="Lead")
    assert (anna.name, anna.notes, anna.created_by) == ("Anna Karenina", "Lead", artist)
    event = AuditEvent.objects.filter(action="character.create").get()
    assert event.details["name"] == "Anna Karenina" and event.actor == artist
    with pytest.raises(ValidationError, match="already has a character called “anna karenina”"):
        services.character_create(actor=artist, project=world.a.project, name="anna karenina")
    # Another project (another studio) may have its own Anna.
    services.character_create(actor=world.b.users["artist"], project=world.b.project, name="Anna Karenina")
    with pytest.raises(ValidationError, match="Give the name"):
        services.character_create(actor=artist, project=world.a.project, name="   ")
    with pytest.raises(ValidationError, match="at most 100"):
        services.character_create(actor=artist, project=world.a.project, name="x" * 101)
    assert Character.objects.filter(project=world.a.project).count() == 1


def test_update_and_rename_onto_another_name(world):
    artist = world.a.users["artist"]
    anna = services.character_create(actor=artist, project=world.a.project, name="Anna")
    services.character_create(actor=artist, project=world.a.project, name="Ben")
    with pytest.raises(ValidationError, match="already has a character called “BEN”"):
        services.character_update(actor=artist, character=anna, name="BEN")
    anna = services.character_update(actor=artist, character=anna, name="Anna K.", notes="Wears a wedding ring")
    anna.refresh_from_db()
    assert (anna.name, anna.notes) == ("Anna K.", "Wears a wedding ring")
    event = AuditEvent.objects.filter(action="character.update").get()
    assert event.details["changes"]["name"] == ["Anna", "Anna K."]


def test_viewer_reads_but_cannot_edit_and_outsiders_see_nothing(world):
    viewer, outsider = world.a.users["viewer"], world.b.users["producer"]
    with pytest.raises(PermissionDenied):
        services.character_create(actor=viewer, project=world.a.project, name="Anna")
    with pytest.raises(Http404):
        services.character_create(actor=outsider, project=world.a.project, name="Anna")
    anna = services.character_create(actor=world.a.users["director"], project=world.a.project, name="Anna")
    with pytest.raises(PermissionDenied):
        services.character_delete(actor=viewer, character=anna)
    with pytest.raises(Http404):
        services.character_update(actor=outsider, character=anna, name="Mine")
    assert AuditEvent.objects.filter(action="access.denied").count() == 4
    project_archive(actor=world.a.users["studio_admin"], project=world.a.project)
    anna.refresh_from_db()
    with pytest.raises(PermissionDenied):
        services.character_update(actor=world.a.users["producer"], character=anna, name="Anna K.")


def test_upload_a_still_stores_a_ready_reference_asset_with_poster(world, still_jpeg, settings):
    artist = world.a.users["artist"]
    anna = services.character_create(actor=artist, project=world.a.project, name="Anna")
    ref = services.reference_upload(
        actor=artist, character=anna, upload=upload_of(still_jpeg), costume="red wool jacket", scene="12A"
    )
    version = ref.version
    assert (ref.costume, ref.scene, ref.created_by) == ("red wool jacket", "12A", artist)
    assert version.status == AssetVersion.Status.READY and version.asset.kind == Asset.Kind.REFERENCE
    assert version.asset.project == world.a.project and version.original_name == "anna_sc12.jpg"
    assert version.media_info["kind"] == "still" and version.media_info["video"]["width"] == 320
    assert version.size == still_jpeg.stat().st_size
    import hashlib

    assert version.sha256 == hashlib.sha256(still_jpeg.read_bytes()).hexdigest()
    assert default_storage.exists(version.file_key) and default_storage.exists(version.poster_key)
    actions = list(AuditEvent.objects.filter(project=world.a.project).values_list("action", flat=True))
    assert "footage.reference.upload" in actions and "character.reference.add" in actions


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("anna.jpg", b"this is a call sheet, not a picture\n" * 20, "anna.jpg: "),
        ("anna.jpg", b"", "is empty"),
    ],
)
def test_a_bad_image_is_refused_and_nothing_is_written(world, settings, name, content, message):
    artist = world.a.users["artist"]
    anna = services.character_create(actor=artist, project=world.a.project, name="Anna")
    before = (Asset.objects.count(), AssetVersion.objects.count(), stored_files(Path(settings.MEDIA_ROOT)))
    with pytest.raises(ValidationError, match=message):
        services.reference_upload(actor=artist, character=anna, upload=SimpleUploadedFile(name, content))
    assert (Asset.objects.count(), AssetVersion.objects.count(), stored_files(Path(settings.MEDIA_ROOT))) == before
    assert not CharacterReference.objects.exists()
    assert not list(Path(settings.FOOTAGE_TEMP_DIR).iterdir())


def test_a_video_or_an_oversized_file_is_not_a_reference_still(world, lavfi_clip, still_jpeg, settings):
    artist = world.a.users["artist"]
    anna = services.character_create(actor=artist, project=world.a.project, name="Anna")
    with pytest.raises(ValidationError, match="is video, not a still image"):
        services.reference_upload(actor=artist, character=anna, upload=upload_of(lavfi_clip))
    settings.CHARACTER_STILL_MAX_BYTES = 100
    with pytest.raises(ValidationError, match="may be at most 0 MiB"):
        services.reference_upload(actor=artist, character=anna, upload=upload_of(still_jpeg))
    settings.CHARACTER_STILL_MAX_BYTES = 40 * 1024**2
    world.a.studio.storage_quota_bytes = 10
    world.a.studio.save(update_fields=["storage_quota_bytes"])
    anna.project.studio.refresh_from_db()
    with pytest.raises(ValidationError, match="over its storage quota"):
        services.reference_upload(actor=artist, character=anna, upload=upload_of(still_jpeg))
    assert not Asset.objects.filter(project=world.a.project).exists()


def test_reference_from_an_existing_still_and_its_refusals(world):
    artist = world.a.users["artist"]
    anna = services.character_create(actor=artist, project=world.a.project, name="Anna")
    still = still_version(world.a.project, artist)
    clip = make_ready_version(world.a.project, uploader=artist)  # a video
    foreign = still_version(world.b.project, world.b.users["artist"])
    ref = services.reference_add(actor=artist, character=anna, version_id=still.pk, costume="coat", scene="3")
    assert ref.version == still
    with pytest.raises(ValidationError, match="already a reference of Anna for scene “3”"):
        services.reference_add(actor=artist, character=anna, version_id=still.pk, scene="3")
    services.reference_add(actor=artist, character=anna, version_id=still.pk, scene="4")  # another scene: fine
    with pytest.raises(ValidationError, match="is video, not a still image"):
        services.reference_add(actor=artist, character=anna, version_id=clip.pk)
    with pytest.raises(ValidationError, match=f"Version {foreign.pk} does not exist in this project"):
        services.reference_add(actor=artist, character=anna, version_id=foreign.pk)
    generated = make_ready_version(world.a.project, uploader=artist, kind=Asset.Kind.GENERATED, name="sheet.jpg")
    AssetVersion.objects.filter(pk=generated.pk).update(media_info={"kind": "still"})
    with pytest.raises(ValidationError, match="was generated by a tool"):
        services.reference_add(actor=artist, character=anna, version_id=generated.pk)
    with pytest.raises(ValidationError, match="Choose an image"):
        services.reference_add(actor=artist, character=anna, version_id="abc")
    ref = services.reference_update(actor=artist, reference=ref, costume="black coat, grey scarf")
    assert CharacterReference.objects.get(pk=ref.pk).costume == "black coat, grey scarf"
    services.reference_delete(actor=artist, reference=ref)
    assert AssetVersion.objects.filter(pk=still.pk).exists()  # the image stays in the project
    assert anna.references.count() == 1


# --- runs against the sheet -------------------------------------------------------------------


def sheet_world(world):
    artist = world.a.users["artist"]
    anna = services.character_create(actor=artist, project=world.a.project, name="Anna")
    ben = services.character_create(actor=artist, project=world.a.project, name="Ben")
    a12, a13, b12 = (
        services.reference_add(
            actor=artist,
            character=character,
            version_id=still_version(world.a.project, artist, name).pk,
            costume=costume,
            scene=scene,
        )
        for character, name, costume, scene in (
            (anna, "a12.jpg", "red jacket", "12"),
            (anna, "a13.jpg", "blue jacket", "13"),
            (ben, "b12.jpg", "grey coat", "12"),
        )
    )
    shots = [make_ready_version(world.a.project, uploader=artist, name=f"shot{n}.mov") for n in (1, 2)]
    return artist, anna, ben, (a12, a13, b12), shots


def start_continuity(world, actor, version_ids, characters):
    return run_services.toolrun_create(
        actor=actor, project=world.a.project, tool="continuity", params={}, input_version_ids=version_ids, characters=characters
    )


def test_a_continuity_run_against_the_whole_sheet_takes_every_reference_with_its_metadata(world, tmp_path):
    artist, anna, ben, (a12, a13, b12), shots = sheet_world(world)
    run = start_continuity(world, artist, [s.pk for s in shots], "all")
    assert [i["version"] for i in run.inputs[:2]] == [s.pk for s in shots]
    sheet = run.inputs[2:]
    assert [(i["character"], i["costume"], i["scene"], i["kind"], i["slot"], i["version"]) for i in sheet] == [
        ("Anna", "red jacket", "12", "reference", "media", a12.version_id),
        ("Anna", "blue jacket", "13", "reference", "media", a13.version_id),
        ("Ben", "grey coat", "12", "reference", "media", b12.version_id),
    ]
    assert set(run.input_versions.values_list("pk", flat=True)) == {s.pk for s in shots} | {r.version_id for r in (a12, a13, b12)}
    start = AuditEvent.objects.filter(action="toolrun.start").get()
    assert [i.get("character") for i in start.details["inputs"]] == [None, None, "Anna", "Anna", "Ben"]

    # The worker hands the metadata to the tool (h3's contract: character, costume, scene).
    folder = tmp_path / "in"
    for entry in run.inputs:  # the stand-in versions' bytes, checked against the SHA-256 recorded at start
        version = AssetVersion.objects.get(pk=entry["version"])
        assert default_storage.exists(version.file_key)
    run.inputs = [{**i, "sha256": ""} for i in run.inputs]
    items = run_services._fetch_inputs(run, folder, NullProgress())
    assert [(i.kind.value, i.metadata.get("character"), i.metadata.get("costume"), i.metadata.get("scene")) for i in items] == [
        ("footage", None, None, None),
        ("footage", None, None, None),
        ("reference", "Anna", "red jacket", "12"),
        ("reference", "Anna", "blue jacket", "13"),
        ("reference", "Ben", "grey coat", "12"),
    ]


def test_chosen_characters_only_and_the_refusals(world):
    artist, anna, ben, refs, shots = sheet_world(world)
    ids = [s.pk for s in shots]
    run = start_continuity(world, artist, ids, [ben.pk])
    assert [i.get("character") for i in run.inputs] == [None, None, "Ben"]
    # Ben's still picked by hand as well: it joins once, as Ben's.
    run = start_continuity(world, artist, [*ids, refs[2].version_id], [ben.pk])
    assert [(i["version"], i.get("character")) for i in run.inputs] == [
        (ids[0], None),
        (ids[1], None),
        (refs[2].version_id, "Ben"),
    ]

    def refused(characters, message, tool="continuity"):
        with pytest.raises(ValidationError) as caught:
            run_services.toolrun_create(
                actor=artist,
                project=world.a.project,
                tool=tool,
                params={},
                input_version_ids=ids[:1] if tool != "continuity" else ids,
                characters=characters,
            )
        assert message in " ".join(caught.value.message_dict["characters"])

    carl = services.character_create(actor=artist, project=world.a.project, name="Carl")
    foreign = services.character_create(actor=world.b.users["artist"], project=world.b.project, name="Dora")
    refused([carl.pk], "Carl has no reference still yet.")
    refused("all", "Carl has no reference still yet.")
    refused([foreign.pk], f"Character {foreign.pk} does not exist in this project.")
    refused(["x"], "“x” is not a character id.")
    refused("none-chosen", "Tick at least one character")
    refused({"a": 1}, 'Give "all", or a list of character ids.')
    refused("all", "does not take reference stills", tool="contactsheet")
    Character.objects.filter(project=world.a.project).delete()
    refused("all", "character sheet is empty")


def test_run_page_shows_findings_by_character(world, client_for):
    artist, anna, ben, refs, shots = sheet_world(world)
    run = start_continuity(world, artist, [s.pk for s in shots], "all")
    # One finding names its character (h3's tool), one is against Anna's reference still by input index.
    findings_import(
        run=run,
        version=shots[1],
        findings=[
            {"type": "costume", "character": "Ben", "frame": 0, "confidence": 0.9, "explanation": "Ben's coat is blue"},
            {"type": "costume", "reference": {"input": 3}, "frame": 0, "confidence": 0.8, "explanation": "jacket"},
        ],
    )
    response = client_for(world.a.users["viewer"]).get(f"/s/{world.a.studio.slug}/p/{world.a.project.code}/runs/{run.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Checked against the character sheet: Anna, Ben." in html
    for name in ("Anna", "Ben"):
        start = html.index(f'data-character-findings="{name}"')
        assert "costume" in html[start : html.index("</li>", start)]


# --- the page ---------------------------------------------------------------------------------


def page_url(side, suffix=""):
    return f"/s/{side.studio.slug}/p/{side.project.code}/characters/{suffix}"


def test_page_lists_the_sheet_and_shows_form_errors(world, client_for, still_jpeg):
    side = world.a
    director = client_for(side.users["director"])
    response = director.post(page_url(side, "add/"), {"name": "Anna", "notes": "lead"})
    assert response.status_code == 302
    anna = Character.objects.get(project=side.project, name="Anna")
    with still_jpeg.open("rb") as image:
        response = director.post(
            page_url(side, f"{anna.pk}/references/add/"), {"image": image, "costume": "red jacket", "scene": "12"}
        )
    assert response.status_code == 302
    response = director.post(page_url(side, "add/"), {"name": "ANNA", "notes": "again"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "This project already has a character called “ANNA”." in html and 'value="ANNA"' in html
    bad = SimpleUploadedFile("sc13.png", b"not a png at all" * 10)
    response = director.post(page_url(side, f"{anna.pk}/references/add/"), {"image": bad, "scene": "13"})
    assert response.status_code == 400 and "sc13.png: " in response.content.decode()
    response = director.post(page_url(side, f"{anna.pk}/references/add/"), {"scene": "13"})
    assert response.status_code == 400 and "Upload an image, or choose one" in response.content.decode()

    page = client_for(side.users["viewer"]).get(page_url(side))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-character="Anna"' in html and "red jacket" in html and "/poster/" in html
    assert "Add a character" not in html  # viewers read
    assert client_for(side.users["viewer"]).post(page_url(side, "add/"), {"name": "Zed"}).status_code == 403
    assert client_for(world.b.users["producer"]).get(page_url(side)).status_code == 404
    assert client_for(world.b.users["producer"]).post(page_url(side, f"{anna.pk}/delete/")).status_code == 404
    # Studio admins without a project role see no footage, so no stills either.
    assert client_for(side.users["studio_admin"]).get(page_url(side)).status_code == 403


def test_page_in_french(world, client_for):
    client = client_for(world.a.users["artist"])
    html = client.get(page_url(world.a), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Ajouter un personnage" in html


# --- the API ----------------------------------------------------------------------------------


def api_url(side, suffix=""):
    return f"/api/v1/projects/{side.project.pk}/characters/{suffix}"


def test_api_crud_scoping_and_bad_input(world, api_for, still_png):
    side = world.a
    artist = api_for(side.users["artist"])
    created = artist.post(api_url(side), {"name": "Ben", "notes": "Anna's brother"}, format="json")
    assert created.status_code == 201, created.json()
    ben = created.json()
    assert (ben["name"], ben["notes"], ben["references"]) == ("Ben", "Anna's brother", [])
    assert artist.post(api_url(side), {"name": "ben"}, format="json").status_code == 400
    assert artist.post(api_url(side), {"name": "Carl", "colour": "red"}, format="json").json()["colour"]
    assert "name" in artist.post(api_url(side), {"notes": "no name"}, format="json").json()

    with still_png.open("rb") as image:
        uploaded = artist.post(
            api_url(side, f"{ben['id']}/references/"), {"image": image, "costume": "grey coat", "scene": "7"}, format="multipart"
        )
    assert uploaded.status_code == 201, uploaded.json()
    ref = uploaded.json()
    assert (ref["character"], ref["costume"], ref["scene"], ref["name"]) == (ben["id"], "grey coat", "7", "Ben · ben.png")
    assert ref["poster"].endswith("/poster/")
    bad = artist.post(
        api_url(side, f"{ben['id']}/references/"), {"image": SimpleUploadedFile("x.png", b"nope" * 50)}, format="multipart"
    )
    assert bad.status_code == 400 and "x.png: " in bad.json()["detail"]
    both = artist.post(api_url(side, f"{ben['id']}/references/"), {"version": ref["version"], "scene": "8"}, format="json")
    assert both.status_code == 201 and both.json()["version"] == ref["version"]
    assert artist.post(api_url(side, f"{ben['id']}/references/"), {"scene": "8"}, format="json").status_code == 400

    patched = artist.patch(api_url(side, f"{ben['id']}/references/{ref['id']}/"), {"costume": "black coat"}, format="json")
    assert patched.status_code == 200 and patched.json()["costume"] == "black coat"
    listed = api_for(side.users["viewer"]).get(api_url(side)).json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [(c["name"], sorted(r["scene"] for r in c["references"])) for c in rows] == [("Ben", ["7", "8"])]

    viewer = api_for(side.users["viewer"])
    assert viewer.post(api_url(side), {"name": "Zed"}, format="json").status_code == 403
    assert viewer.patch(api_url(side, f"{ben['id']}/"), {"name": "Zed"}, format="json").status_code == 403
    assert viewer.delete(api_url(side, f"{ben['id']}/references/{ref['id']}/")).status_code == 403
    outsider = api_for(world.b.users["producer"])
    assert outsider.get(api_url(side)).status_code == 404
    assert outsider.get(api_url(side, f"{ben['id']}/")).status_code == 404
    assert outsider.delete(api_url(side, f"{ben['id']}/")).status_code == 404
    # Another project's id in the URL: not found, even for a member of both studios' ids.
    assert (
        api_for(world.b.users["producer"]).get(f"/api/v1/projects/{world.b.project.pk}/characters/{ben['id']}/").status_code
        == 404
    )

    renamed = artist.patch(api_url(side, f"{ben['id']}/"), {"name": "Benjamin"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "Benjamin"
    assert artist.delete(api_url(side, f"{ben['id']}/references/{ref['id']}/")).status_code == 204
    assert artist.delete(api_url(side, f"{ben['id']}/")).status_code == 204
    assert not Character.objects.filter(project=side.project).exists()


def test_api_run_against_the_sheet_and_the_schema(world, api_for):
    artist_user, anna, ben, refs, shots = sheet_world(world)
    api = api_for(artist_user)
    url = f"/api/v1/projects/{world.a.project.pk}/toolruns/"
    body = {"tool": "continuity", "inputs": {"media": [s.pk for s in shots]}, "characters": [anna.pk]}
    created = api.post(url, body, format="json")
    assert created.status_code == 201, created.json()
    assert [i.get("character") for i in created.json()["inputs"]] == [None, None, "Anna", "Anna"]
    refused = api.post(url, {**body, "characters": [999999]}, format="json")
    assert refused.status_code == 400 and "Character 999999 does not exist in this project." in refused.json()["characters"]
    schema = api.get("/api/schema/?format=json").json()
    assert "/api/v1/projects/{project_pk}/characters/" in schema["paths"]
    assert "/api/v1/projects/{project_pk}/characters/{character_pk}/references/{id}/" in schema["paths"]
    assert "characters" in schema["components"]["schemas"]["ToolRunCreateRequest"]["properties"]


def test_start_form_checks_against_the_sheet(world, client_for):
    artist, anna, ben, refs, shots = sheet_world(world)
    client = client_for(artist)
    base = f"/s/{world.a.studio.slug}/p/{world.a.project.code}/tools/"
    html = client.get(base + "continuity/start/").content.decode()
    assert "data-run-sheet" in html and f'name="sheet-character" value="{anna.pk}"' in html
    assert "data-run-sheet" not in client.get(base + "contactsheet/start/").content.decode()
    shots_post = {"input-media": [str(s.pk) for s in shots]}
    response = client.post(base + "continuity/start/", {**shots_post, "sheet": "chosen"})
    assert response.status_code == 400
    assert "Tick at least one character, or check against all of them." in response.content.decode()
    response = client.post(base + "continuity/start/", {**shots_post, "sheet": "chosen", "sheet-character": [str(ben.pk)]})
    assert response.status_code == 302
    run = world.a.project.tool_runs.get()
    assert [i.get("character") for i in run.inputs] == [None, None, "Ben"]
    assert run.status == "queued" and run.created_by == artist
