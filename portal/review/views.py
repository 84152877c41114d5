"""Review pages: the review room for one version, note exports, and the notifications list."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext
from django.views import View

from portal.access.policy import Action
from portal.access.views import ProjectScopedView
from portal.core.pagination import section_page
from portal.footage import selectors as footage_selectors
from portal.footage import services as footage_services
from portal.footage.models import Asset
from portal.review import exports, selectors, services


def _version(view, version_id):
    version = footage_selectors.version_get(view.project, version_id)
    if version is None:
        raise Http404("Not found")
    return version


def compare_candidates(version) -> list:
    """What a version can be compared with: the asset's other ready versions and, for generated
    media, the ready inputs of the run that made it (the source plate)."""
    others = [v for v in version.asset.versions.all() if v.pk != version.pk and v.is_ready]
    # Only a tool's output (always a generated asset) has a run behind it: footage asks nothing more.
    output = getattr(version, "tool_output", None) if version.asset.kind == Asset.Kind.GENERATED else None
    if output is not None:
        others += [v for v in output.run.input_versions.select_related("asset").all() if v.is_ready and v.pk != version.pk]
    return others


def version_stack(version) -> dict:
    """Where a generated version stands in its asset's stack, for the approval panel: the newest ready
    version when it is newer than this one (decisions are made on the newest), and the newest earlier
    version a producer approved (its approval does not carry over to this one)."""
    ready = [v for v in version.asset.versions.all() if v.is_ready]
    newer = [v for v in ready if v.number > version.number]
    approved = [v for v in ready if v.number < version.number and v.approval_state == "approved"]
    return {
        "newer_version": max(newer, key=lambda v: v.number) if newer else None,
        "approved_earlier": max(approved, key=lambda v: v.number) if approved else None,
    }


class ReviewView(ProjectScopedView):
    page_cache = True  # kept per person until a table it read changes (portal/core/page_cache.py)
    policy_action = Action.FOOTAGE_VIEW

    def get(self, request, version_id: int, **kwargs):
        version = _version(self, version_id)
        if not version.is_ready:
            return redirect("footage:asset", studio=self.studio.slug, project=self.project.code, asset_id=version.asset_id)
        video = (version.media_info or {}).get("video") or {}
        rate = video.get("frame_rate") or self.project.frame_rate
        return render(
            request,
            "review/review.html",
            self.get_context_data(
                version=version,
                asset=version.asset,
                frame_rate=rate,
                frame_count=services.frame_count(version),
                start_timecode=video.get("start_timecode") or "",
                # the row was read for this request: the services' own re-read (for callers holding an
                # older instance) would only ask the database twice more for the same answer
                approval=version.approval_state,
                released=version.is_released,
                decisions=list(selectors.decisions_for_version(version)),
                compare_with=compare_candidates(version),
                is_generated=version.asset.kind == Asset.Kind.GENERATED,
                credentials=services.credentials_view(version),
                **version_stack(version),
            ),
        )


class CredentialsSidecarView(ProjectScopedView):
    """The sidecar manifest (.c2pa) of an approved original whose format cannot carry one: for those
    who may download the original, under the same gate."""

    policy_action = Action.ASSET_DOWNLOAD

    def get(self, request, version_id: int, **kwargs):
        from portal.access.enforce import record_denial
        from portal.footage import storage
        from portal.footage.services import download_record
        from portal.footage.views import serve_key

        version = _version(self, version_id)
        credential = services.current_credential(version)
        if credential is None or not credential.sidecar_key:
            # The version exists and the caller may download it: say why there is nothing here.
            return HttpResponse(
                gettext(
                    "This version has no sidecar manifest: only approved files of formats that cannot carry credentials have one."
                ),
                status=409,
                content_type="text/plain; charset=utf-8",
            )
        if services.released_original(version) is None:
            record_denial(request.user, "asset.download.unapproved", version, visible=True)
            raise PermissionDenied(footage_services.download_blocker(version))
        if not storage.default_storage.exists(credential.sidecar_key):
            raise Http404("Not found")
        download_record(actor=request.user, version=version, what="credentials")
        name = f"{version.original_name or version.asset.name}.c2pa"
        response = serve_key(request, credential.sidecar_key, content_type="application/c2pa", filename=name, attachment=True)
        response["X-Content-SHA256"] = credential.sidecar_sha256
        return response


class NotesExportView(ProjectScopedView):
    policy_action = Action.FOOTAGE_VIEW
    FORMATS = {
        "csv": ("text/csv; charset=utf-8", exports.notes_csv, "csv"),
        "otio": ("application/json", exports.notes_otio, "otio"),
        "edl": ("text/plain; charset=utf-8", exports.notes_edl, "edl"),
    }

    def get(self, request, version_id: int, fmt: str, **kwargs):
        if fmt not in self.FORMATS:
            raise Http404("Not found")
        version = _version(self, version_id)
        content_type, build, extension = self.FORMATS[fmt]
        notes = list(selectors.notes_for_version(version))
        response = HttpResponse(build(version, notes), content_type=content_type)
        name = f"{self.project.code}_{version.asset.name}_v{version.number}_notes.{extension}"
        response["Content-Disposition"] = content_disposition_header(True, name)
        response["X-Content-Type-Options"] = "nosniff"
        return response


class NotificationsView(LoginRequiredMixin, View):
    """The caller's own notifications: no studio in the URL, nobody else's rows."""

    per_page = 50

    def get(self, request):
        page, query = section_page(selectors.notifications_for(request.user), request.GET, per_page=self.per_page)
        return render(
            request,
            "review/notifications.html",
            {"notifications": list(page.object_list), "notification_page": page, "notification_query": query},
        )

    def post(self, request):
        services.notifications_mark_read(actor=request.user)
        return redirect("review:notifications")
