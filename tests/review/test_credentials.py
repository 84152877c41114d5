"""Content credentials (C2PA) on approved generated outputs, end to end with the real library: a
throwaway CA and platform certificate made here, real media made with ffmpeg, approval through the
API, the download read back with c2pa's Reader, and what happens to a tampered file."""

from __future__ import annotations

import base64
import datetime
import hashlib
import subprocess
from datetime import timedelta
from pathlib import Path

import c2pa
import pytest
from django.core.checks import run_checks
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.footage import storage
from portal.footage.models import Asset
from portal.review import credentials, services
from portal.review.models import ContentCredential
from tests.footage.helpers import make_ready_version
from tests.review.c2pa_support import DOCUMENT_SIGNING, make_platform_certificate


@pytest.fixture
def platform_cert(tmp_path, settings):
    paths = make_platform_certificate(tmp_path)
    settings.C2PA_SIGN_CERT = str(paths["cert"])
    settings.C2PA_SIGN_KEY = str(paths["key"])
    settings.C2PA_TRUST_ANCHORS = str(paths["ca"])
    settings.C2PA_SIGN_ALG = "es256"
    return paths


@pytest.fixture
def no_certificate(settings):
    settings.C2PA_SIGN_CERT = ""
    settings.C2PA_SIGN_KEY = ""
    settings.C2PA_TRUST_ANCHORS = ""


@pytest.fixture
def eager_tasks(settings):
    from portal.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = True
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def _no_rederive(monkeypatch):
    # Approval also re-makes the review copies (tested in test_review_api): not what these tests are about.
    from portal.jobs import engine

    real = engine.enqueue
    monkeypatch.setattr(engine, "enqueue", lambda kind, object_id: None if kind == "rederive" else real(kind, object_id))


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", *args], check=True)


def generated_output(world, tmp_path, *, name: str, make, provenance: dict | None = None):
    """A ready generated version whose stored original is a real file made by `make(path)`, with an
    input plate as the run's input (like a crowd run)."""
    plate = make_ready_version(world.a.project, uploader=world.a.users["artist"], name="plate_010.mov")
    plate.sha256 = "1f" * 32
    plate.save(update_fields=["sha256"])
    path = tmp_path / name
    make(path)
    version = make_ready_version(world.a.project, uploader=world.a.users["artist"], kind=Asset.Kind.GENERATED, name=name)
    storage.save_file(version.file_key, path)
    version.sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    version.size = path.stat().st_size
    version.provenance = provenance or {
        "run": 41,
        "tool": "crowd",
        "tool_version": "1.3.0",
        "inputs": [
            {
                "slot": "plate",
                "kind": "plate",
                "name": "plate_010.mov",
                "sha256": plate.sha256,
                "asset": plate.asset_id,
                "version": plate.pk,
            }
        ],
        "model": None,
        "seed": 7,
        "started_at": "2026-12-04T09:30:00+00:00",
    }
    version.save()
    return version, plate


def prores(path: Path) -> None:
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x90:rate=25:duration=0.4", "-c:v", "prores_ks", "-profile:v", "3", str(path))


def edl(path: Path) -> None:
    path.write_text(
        "TITLE: recap\nFCM: NON-DROP FRAME\n\n001  AX       V     C        00:00:00:00 00:00:02:00 01:00:00:00 01:00:02:00\n"
    )


def decisions_url(world, version) -> str:
    return f"/api/v1/projects/{world.a.project.pk}/versions/{version.pk}/decisions/"


def download_url(world, version) -> str:
    return f"/s/{world.a.studio.slug}/p/{world.a.project.code}/download/{version.pk}/"


def approve(api_for, world, version, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_for(world.a.users["producer"]).post(
            decisions_url(world, version), {"verdict": "approved", "sha256": version.sha256}, format="json"
        )
    assert response.status_code == 201, response.content
    return response.json()


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_approved_plate_carries_credentials_read_back_with_every_field(
    api_for, client_for, world, tmp_path, platform_cert, eager_tasks, django_capture_on_commit_callbacks
):
    producer = world.a.users["producer"]
    producer.full_name = "Pat Producer"
    producer.save(update_fields=["full_name"])
    version, plate = generated_output(world, tmp_path, name="comp.mov", make=prores)
    decision = approve(api_for, world, version, django_capture_on_commit_callbacks)

    credential = ContentCredential.objects.get(decision_id=decision["id"])
    assert credential.status == "signed" and credential.source_sha256 == version.sha256
    assert credential.signed_sha256 and credential.signed_sha256 != version.sha256

    # The gate serves exactly the signed file: its bytes hash to what the approval's credentials name.
    response = client_for(world.a.users["artist"]).get(download_url(world, version))
    assert response.status_code == 200
    data = body(response)
    assert hashlib.sha256(data).hexdigest() == credential.signed_sha256 == response["X-Content-SHA256"]
    assert response["Repr-Digest"] == f"sha-256=:{base64.b64encode(hashlib.sha256(data).digest()).decode()}:"
    downloaded = tmp_path / "downloaded.mov"
    downloaded.write_bytes(data)

    # Read back with the library's own Reader, trusting only the throwaway CA.
    anchors = platform_cert["ca"].read_bytes()
    context = c2pa.Context(
        c2pa.Settings.from_dict({"verify": {"ocsp_fetch": False}, "trust": {"trust_anchors": anchors.decode()}})
    )
    with open(downloaded, "rb") as handle, c2pa.Reader("video/quicktime", handle, context=context) as reader:
        assert reader.get_validation_state() == "Trusted"
        manifest = reader.get_active_manifest()
    assert manifest["claim_generator_info"][0]["name"] == "AI Studio Partner Portal"
    assert manifest["signature_info"]["common_name"] == "Partner Portal Signer"
    assertions = {a["label"]: a["data"] for a in manifest["assertions"]}
    actions = assertions["c2pa.actions.v2"]["actions"]
    created = next(a for a in actions if a["action"] == "c2pa.created")
    assert created["softwareAgent"] == {"name": "crowd", "version": "1.3.0"}
    assert created["digitalSourceType"] == "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia"
    assert created["when"] == "2026-12-04T09:30:00+00:00"
    published = next(a for a in actions if a["action"] == "c2pa.published")
    approval = assertions["com.aistudio.approval"]
    decided_at = datetime.datetime.fromisoformat(decision["created_at"].replace("Z", "+00:00"))
    assert approval["approved_by"] == {"name": "Pat Producer", "email": producer.email}
    assert datetime.datetime.fromisoformat(approval["approved_at"]) == decided_at
    assert datetime.datetime.fromisoformat(published["when"]) == decided_at
    assert approval["decision"] == decision["id"] and approval["reviewed_sha256"] == version.sha256
    assert assertions["c2pa.training-mining"]["entries"] == {
        use: {"use": "notAllowed"}
        for use in ("c2pa.ai_generative_training", "c2pa.ai_inference", "c2pa.ai_training", "c2pa.data_mining")
    }
    assert assertions["com.aistudio.run"]["run"] == 41 and assertions["com.aistudio.run"]["seed"] == 7
    (ingredient,) = manifest["ingredients"]
    assert ingredient["title"] == "plate_010.mov" and ingredient["relationship"] == "inputTo"
    assert ingredient["format"] == "video/quicktime"
    assert ingredient["metadata"]["com.aistudio.sha256"] == plate.sha256
    assert ingredient["instance_id"] == f"portal:version:{plate.pk}"

    # Still the same ProRes picture after signing.
    from studio_tools.media import probe

    assert probe(downloaded).video.codec == "prores"

    audit = AuditEvent.objects.get(action="review.credentials.signed", target_id=str(version.pk))
    assert audit.details["signed_sha256"] == credential.signed_sha256 and audit.details["validation"] == "Trusted"

    # The API says the same.
    listed = api_for(world.a.users["viewer"]).get(decisions_url(world, version)).json()
    assert listed["downloadable"] is True
    shown = listed["credentials"]
    assert shown["status"] == "signed" and shown["signed_sha256"] == credential.signed_sha256
    assert shown["manifest"]["valid"] and shown["manifest"]["trusted"]
    assert shown["manifest"]["approved_by"]["email"] == producer.email
    assert shown["manifest"]["ingredients"] == [
        {"title": "plate_010.mov", "format": "video/quicktime", "sha256": plate.sha256, "relationship": "inputTo"}
    ]

    # The review page shows who, what, when and the ingredients, and that they are valid.
    page = client_for(world.a.users["viewer"]).get(f"/s/{world.a.studio.slug}/p/{world.a.project.code}/review/{version.pk}/")
    html = page.content.decode()
    assert 'data-credentials-status="signed"' in html and "data-credentials-valid" in html
    assert "Valid, trusted signer" in html and "crowd 1.3.0" in html and "algorithmicMedia" in html
    assert (
        producer.email in html
        and "plate_010.mov" in html
        and "c2pa.ai_training: notAllowed" in html
        and "c2pa.data_mining: notAllowed" in html
    )


def test_tampered_file_fails_validation(api_for, world, tmp_path, platform_cert, eager_tasks, django_capture_on_commit_callbacks):
    version, _plate = generated_output(world, tmp_path, name="comp.mov", make=prores)
    approve(api_for, world, version, django_capture_on_commit_callbacks)
    credential = ContentCredential.objects.get(version=version)
    signed = bytearray(storage.open_file(credential.signed_key).read())
    intact = tmp_path / "intact.mov"
    intact.write_bytes(signed)
    anchors = platform_cert["ca"].read_bytes()
    assert credentials.read(intact, "video/quicktime", trust_anchors=anchors)["state"] == "Trusted"

    # One byte of picture changed, far from the manifest: the hard binding no longer holds.
    middle = len(signed) // 2
    signed[middle] ^= 0xFF
    tampered = tmp_path / "tampered.mov"
    tampered.write_bytes(signed)
    report = credentials.read(tampered, "video/quicktime", trust_anchors=anchors)
    assert report["state"] == "Invalid"
    assert any("mismatch" in code for code in report["failures"]), report["failures"]
    assert not credentials.summary(report)["valid"]


def test_a_format_the_library_cannot_sign_gets_a_sidecar_manifest(
    api_for, client_for, world, tmp_path, platform_cert, eager_tasks, django_capture_on_commit_callbacks
):
    version, plate = generated_output(world, tmp_path, name="recap.edl", make=edl)
    assert not credentials.embeddable("text/plain") and not credentials.embeddable(credentials.media_type_for("recap.edl"))
    approve(api_for, world, version, django_capture_on_commit_callbacks)
    credential = ContentCredential.objects.get(version=version)
    assert credential.status == "sidecar" and credential.signed_sha256 == version.sha256 and credential.sidecar_key

    artist = client_for(world.a.users["artist"])
    original = body(artist.get(download_url(world, version)))
    assert hashlib.sha256(original).hexdigest() == version.sha256  # the file itself is untouched
    links = api_for(world.a.users["artist"]).get(f"/api/v1/projects/{world.a.project.pk}/versions/{version.pk}/").json()["links"]
    sidecar_response = artist.get(links["credentials"])
    assert sidecar_response.status_code == 200 and sidecar_response["Content-Disposition"].endswith('recap.edl.c2pa"')
    sidecar = body(sidecar_response)
    assert hashlib.sha256(sidecar).hexdigest() == credential.sidecar_sha256

    anchors = platform_cert["ca"].read_bytes()
    (tmp_path / "got.edl").write_bytes(original)
    (tmp_path / "got.edl.c2pa").write_bytes(sidecar)
    report = credentials.read(tmp_path / "got.edl", "text/plain", sidecar=tmp_path / "got.edl.c2pa", trust_anchors=anchors)
    shown = credentials.summary(report)
    assert report["state"] == "Trusted" and shown["tool"] == "crowd"
    assert shown["ingredients"][0]["sha256"] == plate.sha256
    assert shown["training_mining"]["c2pa.ai_generative_training"] == "notAllowed"

    (tmp_path / "got.edl").write_bytes(original.replace(b"AX", b"BX"))
    tampered = credentials.read(tmp_path / "got.edl", "text/plain", sidecar=tmp_path / "got.edl.c2pa", trust_anchors=anchors)
    assert tampered["state"] == "Invalid" and "assertion.dataHash.mismatch" in tampered["failures"]

    # viewers may not download originals, so not their manifests either
    assert client_for(world.a.users["viewer"]).get(links["credentials"]).status_code == 403


def test_without_a_certificate_approval_works_and_says_not_signed(
    api_for, client_for, world, tmp_path, no_certificate, django_capture_on_commit_callbacks
):
    version, _plate = generated_output(world, tmp_path, name="comp.mov", make=prores)
    approve(api_for, world, version, django_capture_on_commit_callbacks)
    credential = ContentCredential.objects.get(version=version)
    assert credential.status == "unsigned" and credential.reason == "not signed: no platform certificate configured"
    response = client_for(world.a.users["artist"]).get(download_url(world, version))
    assert response.status_code == 200 and hashlib.sha256(body(response)).hexdigest() == version.sha256
    page = client_for(world.a.users["viewer"]).get(f"/s/{world.a.studio.slug}/p/{world.a.project.code}/review/{version.pk}/")
    assert "Not signed: no platform certificate configured." in page.content.decode()
    sidecar = client_for(world.a.users["artist"]).get(
        f"/s/{world.a.studio.slug}/p/{world.a.project.code}/review/{version.pk}/credentials.c2pa"
    )
    assert sidecar.status_code == 409 and b"no sidecar manifest" in sidecar.content
    assert api_for(world.a.users["viewer"]).get(decisions_url(world, version)).json()["credentials"]["status"] == "unsigned"


def test_nothing_leaves_before_the_credentials_are_attached(
    api_for, client_for, world, tmp_path, platform_cert, django_capture_on_commit_callbacks, monkeypatch
):
    from portal.review import tasks

    queued = []
    monkeypatch.setattr(tasks.sign_credentials, "apply_async", lambda args, **options: queued.append(args[0]))
    version, _plate = generated_output(world, tmp_path, name="comp.mov", make=prores)
    approve(api_for, world, version, django_capture_on_commit_callbacks)
    assert len(queued) == 1
    response = client_for(world.a.users["artist"]).get(download_url(world, version))
    assert response.status_code == 403 and b"being signed" in response.content
    links = api_for(world.a.users["artist"]).get(f"/api/v1/projects/{world.a.project.pk}/versions/{version.pk}/").json()["links"]
    assert "download" not in links

    # a lost message is sent again by the periodic recovery, once the approval is a while old
    assert services.credentials_recover() == 0
    ContentCredential.objects.filter(pk=queued[0]).update(created_at=timezone.now() - timedelta(minutes=11))
    assert services.credentials_recover() == 1 and queued == [queued[0], queued[0]]

    services.credentials_sign(credential_id=queued[0])
    assert client_for(world.a.users["artist"]).get(download_url(world, version)).status_code == 200
    assert services.credentials_recover() == 0
    # a redelivered task changes nothing
    before = ContentCredential.objects.get(pk=queued[0])
    services.credentials_sign(credential_id=queued[0])
    after = ContentCredential.objects.get(pk=queued[0])
    assert (after.signed_key, after.signed_sha256) == (before.signed_key, before.signed_sha256)
    assert AuditEvent.objects.filter(action="review.credentials.signed").count() == 1


def test_a_stored_original_that_changed_is_not_signed(
    api_for, client_for, world, tmp_path, platform_cert, django_capture_on_commit_callbacks, monkeypatch
):
    from portal.review import tasks

    queued = []
    monkeypatch.setattr(tasks.sign_credentials, "apply_async", lambda args, **options: queued.append(args[0]))
    version, _plate = generated_output(world, tmp_path, name="comp.mov", make=prores)
    approve(api_for, world, version, django_capture_on_commit_callbacks)
    storage.default_storage.delete(version.file_key)
    other = tmp_path / "other.mov"
    ffmpeg("-f", "lavfi", "-i", "color=c=red:size=160x90:rate=25:duration=0.4", "-c:v", "prores_ks", str(other))
    storage.save_file(version.file_key, other)

    credential = services.credentials_sign(credential_id=queued[0])
    assert credential.status == "failed" and "not the file that was approved" in credential.reason
    assert not credential.signed_key
    assert not [k for k in storage.default_storage.listdir(storage.version_folder(version))[1] if k.startswith("signed-")]
    response = client_for(world.a.users["artist"]).get(download_url(world, version))
    assert response.status_code == 403 and b"signing the content credentials failed" in response.content
    assert AuditEvent.objects.filter(action="review.credentials.failed", target_id=str(version.pk)).count() == 1


@pytest.mark.parametrize(
    ("provenance", "expected"),
    [
        ({"tool": "crowd", "model": None, "inputs": [{"name": "plate"}]}, "algorithmicMedia"),
        ({"tool": "crowd", "model": "claude-sonnet-4-6", "inputs": [{"name": "plate"}]}, "algorithmicMedia"),
        ({"tool": "contactsheet", "model": None, "inputs": [{"name": "clip"}]}, "algorithmicMedia"),
        ({"tool": "recap", "model": None, "inputs": [{"name": "ep1"}]}, "algorithmicMedia"),
        ({"tool": "recap", "model": "claude-sonnet-4-6", "inputs": [{"name": "ep1"}]}, "compositeWithTrainedAlgorithmicMedia"),
        ({"tool": "continuity", "model": "claude-sonnet-4-6", "inputs": [{"name": "a"}]}, "compositeWithTrainedAlgorithmicMedia"),
        ({"tool": "imagine", "model": "some-model", "inputs": []}, "trainedAlgorithmicMedia"),
    ],
)
def test_digital_source_type_per_tool(provenance, expected):
    assert credentials.digital_source_type(provenance) == expected


def test_production_check_warns_without_a_certificate(settings, tmp_path):
    settings.PORTAL_ENV = "production"
    settings.C2PA_SIGN_CERT = settings.C2PA_SIGN_KEY = ""
    settings.C2PA_SIGNING_OFF = False
    ids = [m.id for m in run_checks(include_deployment_checks=True)]
    assert "portal.W020" in ids
    settings.C2PA_SIGNING_OFF = True
    assert "portal.W020" not in [m.id for m in run_checks(include_deployment_checks=True)]
    settings.C2PA_SIGN_CERT, settings.C2PA_SIGN_KEY = str(tmp_path / "missing.pem"), str(tmp_path / "missing-key.pem")
    problems = [m for m in run_checks(include_deployment_checks=True) if m.id == "portal.E020"]
    assert problems and "cannot be read" in problems[0].msg
    (tmp_path / "doc").mkdir()
    wrong = make_platform_certificate(tmp_path / "doc", eku=(DOCUMENT_SIGNING,))
    settings.C2PA_SIGN_CERT, settings.C2PA_SIGN_KEY = str(wrong["cert"]), str(wrong["key"])
    problems = [m for m in run_checks(include_deployment_checks=True) if m.id == "portal.E020"]
    assert problems and "missing required EKU" in problems[0].msg
    paths = make_platform_certificate(tmp_path)
    settings.C2PA_SIGN_CERT, settings.C2PA_SIGN_KEY = str(paths["cert"]), str(paths["key"])
    assert not [m for m in run_checks(include_deployment_checks=True) if m.id in ("portal.E020", "portal.W020")]


def test_ps256_signs_and_a_certificate_without_a_c2pa_eku_is_refused_clearly(tmp_path):
    picture = tmp_path / "sheet.png"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x36", "-frames:v", "1", str(picture))
    manifest = credentials.build_manifest(
        title="sheet.png",
        media_type="image/png",
        provenance={"tool": "contactsheet", "tool_version": "1.0.0", "inputs": []},
        approver={"name": "", "email": "p@example.com"},
        approved_at=datetime.datetime.now(datetime.UTC),
        decision_id=1,
        reviewed_sha256="0" * 64,
        portal_version="0.1.0",
    )
    (tmp_path / "rsa").mkdir()
    rsa_paths = make_platform_certificate(tmp_path / "rsa", algorithm="ps256")
    config = credentials.SignerConfig.from_paths(
        str(rsa_paths["cert"]), str(rsa_paths["key"]), algorithm="ps256", trust_anchors=str(rsa_paths["ca"])
    )
    result = credentials.sign(picture, tmp_path / "ps", manifest, config)
    assert result.mode == "embedded" and result.report["state"] == "Trusted"
    assert result.report["manifest"]["signature_info"]["alg"].lower() == "ps256"

    (tmp_path / "doc").mkdir()
    wrong = make_platform_certificate(tmp_path / "doc", eku=(DOCUMENT_SIGNING,))
    config = credentials.SignerConfig.from_paths(str(wrong["cert"]), str(wrong["key"]))
    with pytest.raises(credentials.CredentialsError, match="missing required EKU"):
        credentials.sign(picture, tmp_path / "doc-out", manifest, config)
    with pytest.raises(credentials.CredentialsError, match="must be one of"):
        credentials.SignerConfig.from_paths(str(wrong["cert"]), str(wrong["key"]), algorithm="md5")


def test_a_missing_stored_original_fails_signing_without_a_path_in_the_reason(
    api_for, world, tmp_path, platform_cert, django_capture_on_commit_callbacks, monkeypatch
):
    from portal.review import tasks

    queued = []
    monkeypatch.setattr(tasks.sign_credentials, "apply_async", lambda args, **options: queued.append(args[0]))
    version, _plate = generated_output(world, tmp_path, name="comp.mov", make=prores)
    approve(api_for, world, version, django_capture_on_commit_callbacks)
    storage.default_storage.delete(version.file_key)
    credential = services.credentials_sign(credential_id=queued[0])
    assert credential.status == "failed" and credential.reason == "The stored original could not be read: nothing was signed."
    assert services.released_original(version) is None
