"""The project's "Characters" page: the character sheet, with its forms. A refused form comes back
on the same page (status 400) with its message next to it and what was typed still in it."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from portal.access.policy import Action
from portal.access.views import ProjectScopedView
from portal.characters import selectors, services
from portal.characters.runs import ALL, NONE_CHOSEN, reference_slot
from portal.toolruns.forms import _poster_url as poster_url  # one place builds a version's poster URL


def _messages_of(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [str(m) for messages_ in exc.message_dict.values() for m in messages_]
    return [str(m) for m in exc.messages]


class _SheetPage(ProjectScopedView, abstract=True):
    """Draws the sheet page; the list view shows it, the edit views show it again with an error."""

    def page(self, request, *, form: str = "", errors: list[str] | None = None, values=None, status: int = 200):
        project = self.project
        characters = list(selectors.characters_for_project(project))
        for character in characters:
            character.sheet = [(ref, poster_url(project, ref.version), f"refedit-{ref.pk}") for ref in character.references.all()]
            character.ref_form, character.edit_form = f"ref-{character.pk}", f"edit-{character.pk}"
        can_edit = Action.CHARACTERS_EDIT in self.actions
        stills = list(selectors.still_versions(project)[:200]) if can_edit else []
        return render(
            request,
            "characters/list.html",
            self.get_context_data(
                characters=characters,
                can_edit=can_edit,
                stills=stills,
                failed_errors=errors or [],
                failed_form=form,
                values=values or {},
                max_mib=services.still_max_bytes() // 1024**2,
            ),
            status=status,
        )

    def back(self, anchor: str = ""):
        url = reverse("characters:list", kwargs={"studio": self.studio.slug, "project": self.project.code})
        return redirect(url + (f"#{anchor}" if anchor else ""))


class CharacterListView(_SheetPage):
    policy_action = Action.FOOTAGE_VIEW

    def get(self, request, **kwargs):
        return self.page(request)


class _EditView(_SheetPage):
    policy_action = Action.CHARACTERS_EDIT

    def character(self, character_id):
        character = selectors.character_get(self.project, character_id)
        if character is None:
            raise Http404("Not found")
        return character

    def attempt(self, request, form: str, work, *, success: str, anchor: str = ""):
        try:
            result = work()
        except ValidationError as exc:
            return self.page(request, form=form, errors=_messages_of(exc), values=request.POST, status=400)
        messages.success(request, success)
        return self.back(anchor or (f"character-{result.pk}" if getattr(result, "pk", None) else ""))


class CharacterAddView(_EditView):
    def post(self, request, **kwargs):
        name = request.POST.get("name", "")
        return self.attempt(
            request,
            "add",
            lambda: services.character_create(
                actor=request.user, project=self.project, name=name, notes=request.POST.get("notes", "")
            ),
            success=_("%(name)s added to the character sheet.") % {"name": " ".join(name.split())},
        )


class CharacterEditView(_EditView):
    def post(self, request, character_id: int, **kwargs):
        character = self.character(character_id)
        return self.attempt(
            request,
            f"edit-{character.pk}",
            lambda: services.character_update(
                actor=request.user, character=character, name=request.POST.get("name", ""), notes=request.POST.get("notes", "")
            ),
            success=_("Character saved."),
        )


class CharacterDeleteView(_EditView):
    def post(self, request, character_id: int, **kwargs):
        character = self.character(character_id)
        services.character_delete(actor=request.user, character=character)
        messages.success(request, _("%(name)s removed from the character sheet.") % {"name": character.name})
        return self.back()


class ReferenceAddView(_EditView):
    def post(self, request, character_id: int, **kwargs):
        character = self.character(character_id)
        costume, scene = request.POST.get("costume", ""), request.POST.get("scene", "")
        image = request.FILES.get("image")

        def work():
            if image is not None:
                services.reference_upload(actor=request.user, character=character, upload=image, costume=costume, scene=scene)
            elif request.POST.get("version"):
                services.reference_add(
                    actor=request.user, character=character, version_id=request.POST["version"], costume=costume, scene=scene
                )
            else:
                raise ValidationError({"image": [_("Upload an image, or choose one already in the project.")]})
            return character

        return self.attempt(
            request, f"ref-{character.pk}", work, success=_("Reference still added to %(name)s.") % {"name": character.name}
        )


class _ReferenceView(_EditView):
    def reference(self, character_id, reference_id):
        reference = selectors.reference_get(self.character(character_id), reference_id)
        if reference is None:
            raise Http404("Not found")
        return reference


class ReferenceEditView(_ReferenceView):
    def post(self, request, character_id: int, reference_id: int, **kwargs):
        reference = self.reference(character_id, reference_id)
        return self.attempt(
            request,
            f"refedit-{reference.pk}",
            lambda: (
                services.reference_update(
                    actor=request.user,
                    reference=reference,
                    costume=request.POST.get("costume", ""),
                    scene=request.POST.get("scene", ""),
                ).character
            ),
            success=_("Reference still saved."),
        )


class ReferenceDeleteView(_ReferenceView):
    def post(self, request, character_id: int, reference_id: int, **kwargs):
        reference = self.reference(character_id, reference_id)
        services.reference_delete(actor=request.user, reference=reference)
        messages.success(request, _("Reference still removed from %(name)s.") % {"name": reference.character.name})
        return self.back(f"character-{reference.character_id}")


# --- the tool start form's "check against the character sheet" ---------------------------------


def sheet_from_post(post):
    """None (not asked), "all", or the ticked character ids."""
    mode = post.get("sheet", "")
    if mode == ALL:
        return ALL
    if mode == "chosen":
        return [v for v in post.getlist("sheet-character") if v] or NONE_CHOSEN
    return None


def sheet_form(spec, project, sheet, errors: list[str]) -> dict | None:
    """What the start form shows for the sheet; None when the tool takes no reference stills."""
    if reference_slot(spec) is None:
        return None
    characters = list(selectors.characters_for_project(project))
    for character in characters:
        character.still_count = len(character.references.all())
        character.scenes = sorted({r.scene for r in character.references.all() if r.scene})
    chosen = [str(v) for v in sheet] if isinstance(sheet, list) else []
    return {
        "characters": characters,
        "mode": ALL if sheet == ALL else ("chosen" if sheet else ""),
        "chosen": chosen,
        "errors": errors,
    }
