"""Every write to the character sheet: policy, audit and validation meet here.

A reference still is an image asset version of the project: an existing one, or one uploaded for
the sheet, which is checked (a real still image, within size and quota), stored under the project's
storage like any upload, given a poster and a proxy, and only then joins the sheet. Nothing is left
half-written: a refused image leaves no row and no byte."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.access.enforce import require
from portal.access.policy import Action
from portal.audit.services import record
from portal.characters.models import Character, CharacterReference
from portal.footage import storage
from portal.footage.models import Asset, AssetVersion
from portal.live.services import publish_on_commit
from portal.projects.models import Project

NAME_MAX = 100
NOTES_MAX = 2000
COSTUME_MAX = 300
SCENE_MAX = 64
# A reference still is a photo or a frame grab: far below footage's limit.
STILL_MAX_BYTES_DEFAULT = 40 * 1024**2


def still_max_bytes() -> int:
    return int(getattr(settings, "CHARACTER_STILL_MAX_BYTES", STILL_MAX_BYTES_DEFAULT))


def _text(value, *, field: str, limit: int, required: bool = False) -> str:
    text = " ".join(str(value or "").split()) if field != "notes" else str(value or "").strip()
    if required and not text:
        raise ValidationError({field: [f"Give the {field}."]})
    if len(text) > limit:
        raise ValidationError({field: [f"The {field} is {len(text)} characters long; at most {limit} are allowed."]})
    if any(ord(c) < 32 and c not in "\n\r\t" for c in text):
        raise ValidationError({field: [f"The {field} contains control characters."]})
    return text


def _duplicate_name(project, name: str, *, exclude_pk=None) -> ValidationError | None:
    qs = Character.objects.filter(project=project, name__iexact=name)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    if qs.exists():
        return ValidationError({"name": [f"This project already has a character called “{name}”."]})
    return None


# --- characters -------------------------------------------------------------------------------


def character_create(*, actor, project, name: str, notes: str = "") -> Character:
    require(actor, Action.CHARACTERS_EDIT, project)
    name = _text(name, field="name", limit=NAME_MAX, required=True)
    notes = _text(notes, field="notes", limit=NOTES_MAX)
    duplicate = _duplicate_name(project, name)
    if duplicate:
        raise duplicate
    try:
        with transaction.atomic():
            character = Character(project=project, name=name, notes=notes, created_by=actor)
            character.save()
            record(
                action="character.create",
                actor=actor,
                project=project,
                target=character,
                details={"name": name, "notes": notes},
            )
    except IntegrityError:  # the same name added at the same moment by someone else
        raise _duplicate_name(project, name) or ValidationError({"name": ["This name is taken."]}) from None
    return character


def character_update(*, actor, character: Character, name: str | None = None, notes: str | None = None) -> Character:
    require(actor, Action.CHARACTERS_EDIT, character)
    changes = {}
    if name is not None:
        name = _text(name, field="name", limit=NAME_MAX, required=True)
        if name != character.name:
            duplicate = _duplicate_name(character.project, name, exclude_pk=character.pk)
            if duplicate:
                raise duplicate
            changes["name"] = [character.name, name]
    if notes is not None:
        notes = _text(notes, field="notes", limit=NOTES_MAX)
        if notes != character.notes:
            changes["notes"] = [character.notes, notes]
    if not changes:
        return character
    try:
        with transaction.atomic():
            locked = Character.objects.select_for_update().select_related("project__studio").get(pk=character.pk)
            for field, (_old, new) in changes.items():
                setattr(locked, field, new)
            locked.updated_at = timezone.now()
            locked.save()
            record(action="character.update", actor=actor, project=locked.project, target=locked, details={"changes": changes})
    except IntegrityError:
        raise ValidationError({"name": [f"This project already has a character called “{name}”."]}) from None
    return locked


def character_delete(*, actor, character: Character) -> None:
    require(actor, Action.CHARACTERS_EDIT, character)
    with transaction.atomic():
        references = list(character.references.values_list("version_id", flat=True))
        record(
            action="character.delete",
            actor=actor,
            project=character.project,
            target=character,
            details={"name": character.name, "reference_versions": references},
        )
        character.delete()


# --- reference stills -------------------------------------------------------------------------


def _costume_scene(costume, scene) -> tuple[str, str]:
    return _text(costume, field="costume", limit=COSTUME_MAX), _text(scene, field="scene", limit=SCENE_MAX)


def _check_unique(character: Character, version: AssetVersion, scene: str, *, exclude_pk=None) -> None:
    qs = CharacterReference.objects.filter(character=character, version=version, scene=scene)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    if qs.exists():
        where = f" for scene “{scene}”" if scene else ""
        raise ValidationError({"version": [f"{version.asset.name} is already a reference of {character.name}{where}."]})


def _add(*, actor, character: Character, version: AssetVersion, costume: str, scene: str, uploaded: bool) -> CharacterReference:
    """Inside the caller's transaction."""
    reference = CharacterReference.objects.create(
        character=character, version=version, costume=costume, scene=scene, created_by=actor
    )
    Character.objects.filter(pk=character.pk).update(updated_at=timezone.now())
    record(
        action="character.reference.add",
        actor=actor,
        project=character.project,
        target=reference,
        details={
            "character": character.name,
            "version": version.pk,
            "sha256": version.sha256,
            "costume": costume,
            "scene": scene,
            "uploaded": uploaded,
        },
    )
    return reference


def reference_add(*, actor, character: Character, version_id, costume: str = "", scene: str = "") -> CharacterReference:
    """An image version already in the project becomes a reference still of the character."""
    require(actor, Action.CHARACTERS_EDIT, character)
    costume, scene = _costume_scene(costume, scene)
    if isinstance(version_id, bool) or not str(version_id or "").strip().isdigit():
        raise ValidationError({"version": ["Choose an image of this project, or upload one."]})
    version = (
        AssetVersion.objects.select_related("asset")
        .filter(pk=int(str(version_id).strip()), asset__project=character.project)
        .first()
    )
    if version is None:
        raise ValidationError({"version": [f"Version {version_id} does not exist in this project."]})
    label = f"{version.asset.name} v{version.number}"
    if version.status != AssetVersion.Status.READY:
        raise ValidationError({"version": [f"{label} is not ready to use ({version.get_status_display().lower()})."]})
    if version.asset.kind == Asset.Kind.GENERATED:
        raise ValidationError(
            {"version": [f"{label} was generated by a tool: a reference still is a real picture of the character."]}
        )
    kind = (version.media_info or {}).get("kind")
    if kind != "still":
        raise ValidationError({"version": [f"{label} is {kind or 'not media'}, not a still image: a reference is a still."]})
    _check_unique(character, version, scene)
    with transaction.atomic():
        return _add(actor=actor, character=character, version=version, costume=costume, scene=scene, uploaded=False)


def reference_upload(*, actor, character: Character, upload, costume: str = "", scene: str = "") -> CharacterReference:
    """An uploaded image (a Django UploadedFile) becomes a reference asset of the project, stored and
    derived like footage, and a reference still of the character: all of it, or none of it."""
    from portal.footage.services import UploadError, _check_size, _make_derivatives, clean_display_name
    from studio_tools.media import MediaRejected, probe, sha256_file
    from studio_tools.media.sandbox import ProcessFailed

    require(actor, Action.CHARACTERS_EDIT, character)
    costume, scene = _costume_scene(costume, scene)
    project = character.project
    if upload is None:
        raise ValidationError({"image": ["Choose an image file to upload."]})
    filename = clean_display_name(getattr(upload, "name", "") or "", fallback="reference")
    size = int(getattr(upload, "size", 0) or 0)
    if size <= 0:
        raise ValidationError({"image": [f"{filename} is empty (0 bytes)."]})
    limit = still_max_bytes()
    if size > limit:
        raise ValidationError(
            {"image": [f"{filename} is {size / 1024**2:.1f} MiB; a reference still may be at most {limit / 1024**2:.0f} MiB."]}
        )
    try:
        _check_size(project, size)  # early, before reading the file; again under the project's lock below
    except UploadError as exc:
        raise ValidationError({"image": [exc.message]}) from None

    Path(settings.FOOTAGE_TEMP_DIR).mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="character-", dir=settings.FOOTAGE_TEMP_DIR))
    try:
        suffix = Path(filename).suffix.lower()
        local = workdir / ("upload" + (suffix if suffix[1:].isalnum() and len(suffix) <= 9 else ""))
        with open(local, "wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        try:
            media = probe(local, filename=filename)
        except MediaRejected as exc:
            raise ValidationError({"image": [f"{filename}: {exc.reason}"]}) from None
        if media.kind != "still":
            raise ValidationError(
                {"image": [f"{filename} is {media.kind}, not a still image: a reference is a photo or a frame grab."]}
            )
        digest = sha256_file(local)
        folder = None
        try:
            with transaction.atomic():
                # Under the project's lock, like a tus upload, so two uploads cannot both take the last of the quota.
                Project.objects.select_for_update(no_key=True).filter(pk=project.pk).first()
                try:
                    _check_size(project, size)
                except UploadError as exc:
                    raise ValidationError({"image": [exc.message]}) from None
                asset = Asset(
                    project=project, name=f"{character.name} · {filename}"[:200], kind=Asset.Kind.REFERENCE, created_by=actor
                )
                asset.full_clean()
                asset.save()
                version = AssetVersion.objects.create(
                    asset=asset,
                    number=1,
                    status=AssetVersion.Status.PROCESSING,
                    original_name=filename,
                    size=size,
                    sha256=digest,
                    media_info=media.to_dict(),
                    uploaded_by=actor,
                )
                folder = storage.version_folder(version)
                file_key = storage.save_file(storage.version_key(version, "original"), local)
                derived = _make_derivatives(version, media, local, workdir)
                for field, value in derived.items():
                    setattr(version, field, value)
                version.file_key = file_key
                version.status = AssetVersion.Status.READY
                version.ready_at = timezone.now()
                version.save()
                record(
                    action="footage.reference.upload",
                    actor=actor,
                    project=project,
                    target=version,
                    details={"asset": asset.pk, "filename": filename, "size": size, "sha256": digest, "for": character.name},
                )
                publish_on_commit(project.pk, "asset.ready", {"asset": asset.pk, "version": version.pk, "status": version.status})
                return _add(actor=actor, character=character, version=version, costume=costume, scene=scene, uploaded=True)
        except (MediaRejected, ProcessFailed) as exc:
            if folder:
                storage.delete_folder(folder)
            reason = exc.reason if isinstance(exc, MediaRejected) else "it could not be decoded; export it again."
            raise ValidationError({"image": [f"{filename}: {reason}"]}) from None
        except BaseException:
            if folder:
                storage.delete_folder(folder)
            raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def reference_update(
    *, actor, reference: CharacterReference, costume: str | None = None, scene: str | None = None
) -> CharacterReference:
    require(actor, Action.CHARACTERS_EDIT, reference)
    changes = {}
    if costume is not None:
        costume = _text(costume, field="costume", limit=COSTUME_MAX)
        if costume != reference.costume:
            changes["costume"] = [reference.costume, costume]
    if scene is not None:
        scene = _text(scene, field="scene", limit=SCENE_MAX)
        if scene != reference.scene:
            changes["scene"] = [reference.scene, scene]
            _check_unique(reference.character, reference.version, scene, exclude_pk=reference.pk)
    if not changes:
        return reference
    with transaction.atomic():
        for field, (_old, new) in changes.items():
            setattr(reference, field, new)
        reference.updated_at = timezone.now()
        reference.save()
        Character.objects.filter(pk=reference.character_id).update(updated_at=timezone.now())
        record(
            action="character.reference.update",
            actor=actor,
            project=reference.project,
            target=reference,
            details={"character": reference.character.name, "changes": changes},
        )
    return reference


def reference_delete(*, actor, reference: CharacterReference) -> None:
    """The still leaves the sheet; its asset stays in the project (it may be used elsewhere)."""
    require(actor, Action.CHARACTERS_EDIT, reference)
    with transaction.atomic():
        record(
            action="character.reference.delete",
            actor=actor,
            project=reference.project,
            target=reference,
            details={"character": reference.character.name, "version": reference.version_id, "scene": reference.scene},
        )
        Character.objects.filter(pk=reference.character_id).update(updated_at=timezone.now())
        reference.delete()
