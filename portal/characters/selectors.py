"""Every read of the character sheet: always scoped to one project."""

from __future__ import annotations

from django.db.models import Prefetch
from django.db.models.functions import Lower

from portal.characters.models import Character, CharacterReference
from portal.footage.models import Asset, AssetVersion
from portal.projects.models import Project


def characters_for_project(project: Project):
    references = CharacterReference.objects.select_related("version__asset").order_by("scene", "pk")
    return (
        Character.objects.filter(project=project)
        .prefetch_related(Prefetch("references", queryset=references))
        .order_by(Lower("name"), "pk")
    )


def character_get(project: Project, character_id) -> Character | None:
    if not str(character_id).isdigit():
        return None
    return characters_for_project(project).select_related("project__studio").filter(pk=int(character_id)).first()


def reference_get(character: Character, reference_id) -> CharacterReference | None:
    if not str(reference_id).isdigit():
        return None
    return (
        CharacterReference.objects.select_related("character__project__studio", "version__asset")
        .filter(character=character, pk=int(reference_id))
        .first()
    )


def still_versions(project: Project):
    """Ready image versions of the project a reference can point at (newest first)."""
    return (
        AssetVersion.objects.select_related("asset")
        .filter(asset__project=project, status=AssetVersion.Status.READY, media_info__kind="still")
        .exclude(asset__kind=Asset.Kind.GENERATED)
        .order_by("-created_at", "-pk")
    )
