"""Run-page resources that are not assets of their own: a tool's image outputs (such as the recap's
moment thumbnails), shown inline to anyone who may watch the project's footage."""

from __future__ import annotations

from django.http import Http404

from portal.access.policy import Action
from portal.access.views import ProjectScopedView
from portal.footage.models import AssetVersion
from portal.footage.views import serve_key
from portal.toolruns import selectors

INLINE_KINDS = {"image"}
INLINE_TYPES = {"image/jpeg", "image/png"}


class RunOutputImageView(ProjectScopedView):
    """An image a run made for its own page (thumbnail sheets, comparison stills). They show frames of
    the run's inputs, which the same people may already watch; generated plates are not served here."""

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
        response = serve_key(request, version.file_key, content_type=output.media_type)
        response["Cache-Control"] = "private, max-age=3600"
        return response
