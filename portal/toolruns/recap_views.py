"""Run-page resources that are not assets of their own: a tool's image outputs (such as the recap's
moment thumbnails), shown inline to anyone who may watch the project's footage, labelled until approved."""

from __future__ import annotations

from django.http import Http404, HttpResponse

from portal.access.policy import Action
from portal.access.views import ProjectScopedView
from portal.footage import storage
from portal.footage.models import AssetVersion
from portal.footage.views import serve_key
from portal.toolruns import selectors
from studio_tools.media.label import label_image

INLINE_KINDS = {"image"}
INLINE_TYPES = {"image/jpeg", "image/png"}


class RunOutputImageView(ProjectScopedView):
    """An image a run made for its own page (contact sheets, comparison stills, thumbnails).

    The same gate as downloads: the picture itself only once a producer approved it (or when it is
    not generated media); before that, for whoever may watch footage, a copy with "AI-GENERATED -
    NOT APPROVED" burned in, as generated video proxies carry. Every view is on the record."""

    policy_action = Action.FOOTAGE_VIEW

    def get(self, request, run_id: int, name: str, **kwargs):
        run = selectors.run_get(self.project, run_id)
        if run is None:
            raise Http404("Not found")
        output = next((o for o in run.outputs.all() if o.name == name), None)
        if output is None or output.kind not in INLINE_KINDS or output.media_type not in INLINE_TYPES:
            raise Http404("Not found")
        version = output.version
        if version.status != AssetVersion.Status.READY or not version.file_key:
            raise Http404("Not found")
        from portal.footage.services import GENERATED_LABEL, download_record

        if version.is_released:
            download_record(actor=request.user, version=version, what="preview")
            response = serve_key(request, version.file_key, content_type=output.media_type)
            response["Cache-Control"] = "private, max-age=3600"
            return response
        download_record(actor=request.user, version=version, what="preview_labelled")
        try:
            with storage.default_storage.open(version.file_key, "rb") as handle:
                labelled = label_image(handle.read(), GENERATED_LABEL)
        except (OSError, ValueError):  # not a picture after all: never the unlabelled bytes
            raise Http404("Not found") from None
        response = HttpResponse(labelled, content_type="image/png")
        # approval changes what this address answers: never reuse a labelled copy
        response["Cache-Control"] = "private, no-store"
        return response
