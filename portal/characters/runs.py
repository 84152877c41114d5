"""A run "checked against the character sheet": the shots a person chose, plus every reference still
of the sheet's characters (all of them, or those picked) as inputs of kind `reference`, each carrying
the character's name, the costume and the scene. The continuity tool groups references by name and
reports findings on the character (`finding["character"]`)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from portal.characters import selectors
from portal.footage.models import AssetVersion
from studio_tools.core import InputKind, ToolSpec

ALL = "all"
# The start form's "chosen characters" with none ticked.
NONE_CHOSEN = "none-chosen"


def reference_slot(spec: ToolSpec):
    """The tool's input slot that takes reference stills, or None when it takes none."""
    return next((slot for slot in spec.inputs if slot.accepts(InputKind.REFERENCE)), None)


def parse_choice(value: Any) -> str | list[int] | None:
    """None / False / [] / "": no check against the sheet; True or "all": every character; a list of
    character ids: those. Anything else is refused with a message."""
    if value is None or value is False or value == "" or value == []:
        return None
    if value == NONE_CHOSEN:
        raise ValidationError({"characters": ["Tick at least one character, or check against all of them."]})
    if value is True or (isinstance(value, str) and value.strip().lower() == ALL):
        return ALL
    if isinstance(value, list | tuple):
        ids: list[int] = []
        for item in value:
            if isinstance(item, bool) or not (isinstance(item, int) or (isinstance(item, str) and item.strip().isdigit())):
                raise ValidationError({"characters": [f"“{item}” is not a character id."]})
            if int(item) not in ids:
                ids.append(int(item))
        return ids
    raise ValidationError({"characters": ['Give "all", or a list of character ids.']})


def sheet_inputs(*, spec: ToolSpec, project, characters: Any) -> list[dict[str, Any]]:
    """The run's input entries for the character sheet (empty when it is not asked for)."""
    choice = parse_choice(characters)
    if choice is None:
        return []
    slot = reference_slot(spec)
    if slot is None:
        raise ValidationError(
            {"characters": [f"{spec.title} does not take reference stills: it cannot check a character sheet."]}
        )
    sheet = list(selectors.characters_for_project(project))
    if choice == ALL:
        chosen = sheet
        if not chosen:
            raise ValidationError({"characters": ["The project's character sheet is empty: add a character first."]})
    else:
        by_id = {c.pk: c for c in sheet}
        missing = [str(i) for i in choice if i not in by_id]
        if missing:
            raise ValidationError({"characters": [f"Character {', '.join(missing)} does not exist in this project."]})
        chosen = [by_id[i] for i in choice]
    problems: list[str] = []
    entries: list[dict[str, Any]] = []
    for character in chosen:
        references = list(character.references.all())
        if not references:
            problems.append(f"{character.name} has no reference still yet.")
            continue
        for reference in references:
            version = reference.version
            if version.status != AssetVersion.Status.READY:
                problems.append(f"The reference {version.asset.name} of {character.name} is not ready to use.")
                continue
            entries.append(
                {
                    "version": version.pk,
                    "asset": version.asset_id,
                    "number": version.number,
                    "slot": slot.name,
                    "kind": InputKind.REFERENCE.value,
                    "name": version.asset.name,
                    "original_name": version.original_name,
                    "sha256": version.sha256,
                    "character": character.name,
                    "character_id": character.pk,
                    "reference": reference.pk,
                    "costume": reference.costume,
                    "scene": reference.scene,
                }
            )
    if problems:
        raise ValidationError({"characters": problems})
    return entries


# What of an input entry travels to the tool as ToolInput.metadata (h3's contract).
METADATA_KEYS = ("character", "costume", "scene")
