"""Tool pages: the project's tools and runs, the start form, a run's page. Live updates come over the
project websocket (static/js/toolruns.js); these pages are complete without it."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from portal.access.policy import Action, conditions_hold
from portal.access.views import ProjectScopedView
from portal.characters.views import sheet_form, sheet_from_post
from portal.core.errors import ServiceError
from portal.core.fasturls import reverse_with_id
from portal.core.pagination import section_page
from portal.providers.selectors import studio_providers
from portal.toolruns import forms, selectors, services, versions
from portal.toolruns.models import ToolRun
from portal.toolruns.registry import UnknownTool, all_tools, get_tool


def _tool_or_404(name: str):
    try:
        return get_tool(name)
    except UnknownTool:
        raise Http404("Not found") from None


def _tool_allowed(spec, project) -> bool:
    # The studio's consent is the policy's condition on external AI (whoever asks).
    return not spec.uses_external_ai or conditions_hold(Action.EXTERNAL_AI_USE, project)


RUNS_PER_PAGE = 25


def run_listing(project, params) -> dict:
    """One page of the project's runs, newest first (?page=, the other parameters kept)."""
    page, query = section_page(selectors.runs_for_table(project), params, per_page=RUNS_PER_PAGE)
    runs = list(page.object_list)
    where = {"studio": project.studio.slug, "project": project.code}
    for run in runs:  # the row's links without a reverse() each
        run.page_url = reverse_with_id("toolruns:run", "run_id", run.pk, **where)
        run.cancel_url = reverse_with_id("toolruns:cancel", "run_id", run.pk, **where)
    return {"runs": runs, "run_page": page, "run_query": query}


class ToolsView(ProjectScopedView):
    """Every tool the project can run, and its recent runs with live progress."""

    page_cache = True  # kept per person until a table it read changes (portal/core/page_cache.py)

    policy_action = Action.FOOTAGE_VIEW

    def get(self, request, **kwargs):
        tools = [(t.spec, _tool_allowed(t.spec, self.project)) for t in all_tools()]
        return render(
            request,
            "toolruns/tools.html",
            self.get_context_data(tools=tools, **run_listing(self.project, request.GET)),
        )


class RunListView(ProjectScopedView):
    """The run table alone: the tools page swaps it in when a live event says the list changed."""

    policy_action = Action.FOOTAGE_VIEW

    def get(self, request, **kwargs):
        return render(request, "toolruns/_run_table.html", self.get_context_data(**run_listing(self.project, request.GET)))


class ToolStartView(ProjectScopedView):
    policy_action = Action.TOOLRUN_START

    def _render(
        self, request, spec, *, values=None, selected=None, errors=None, status=200, sheet=None, new_version_of="", again=None
    ):
        errors = errors or {}
        return render(
            request,
            "toolruns/start.html",
            self.get_context_data(
                spec=spec,
                sheet=sheet_form(spec, self.project, sheet, errors.get("characters", [])),
                allowed=_tool_allowed(spec, self.project),
                param_fields=forms.param_fields(
                    spec,
                    values,
                    errors,
                    provider_choices=[(p["id"], p["label"]) for p in studio_providers(self.project.studio) if p["allowed"]],
                ),
                input_fields=forms.input_fields(spec, self.project, selected),
                input_errors=errors.get("inputs", []),
                other_errors=forms.unplaced_errors(spec, errors),
                version_choices=versions.start_choices(self.project, spec.name, chosen=new_version_of),
                new_version_of=new_version_of,
                version_errors=errors.get("new_version_of", []),
                again=again,
            ),
            status=status,
        )

    def get(self, request, tool: str, **kwargs):
        spec = _tool_or_404(tool).spec
        again = request.GET.get("again", "")
        if again:
            # "Run again": the form filled in like an earlier run of this tool in this project.
            run = selectors.run_get(self.project, again) if again.isdigit() else None
            if run is None or run.tool != spec.name:
                raise Http404("Not found")
            filled = versions.again_from(run)
            return self._render(
                request,
                spec,
                values=filled["values"],
                selected=filled["selected"],
                new_version_of=filled["new_version_of"],
                again=run,
            )
        return self._render(request, spec)

    def post(self, request, tool: str, **kwargs):
        spec = _tool_or_404(tool).spec
        params = forms.params_from_post(spec, request.POST)
        inputs = forms.inputs_from_post(spec, request.POST)
        selected = {slot: [int(v) for v in ids if v.isdigit()] for slot, ids in inputs.items()}
        sheet = sheet_from_post(request.POST)
        new_version_of = request.POST.get("new_version_of", versions.AUTOMATIC).strip()
        kept = {"values": params, "selected": selected, "sheet": sheet, "new_version_of": new_version_of}
        try:
            run = services.toolrun_create(
                actor=request.user,
                project=self.project,
                tool=spec.name,
                params=params,
                input_version_ids=inputs,
                characters=sheet,
                new_version_of=versions.choice_from_post(new_version_of),
            )
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
            return self._render(request, spec, errors=errors, status=400, **kept)
        except ServiceError as exc:
            return self._render(request, spec, errors={"": [exc.message]}, status=exc.status_code, **kept)
        messages.success(request, _("Run started. This page follows it live."))
        return redirect("toolruns:run", studio=self.studio.slug, project=self.project.code, run_id=run.pk)


class RunDetailView(ProjectScopedView):
    policy_action = Action.FOOTAGE_VIEW

    def get(self, request, run_id: int, **kwargs):
        run = selectors.run_get(self.project, run_id)
        if run is None:
            raise Http404("Not found")
        try:
            spec = get_tool(run.tool).spec
        except UnknownTool:
            spec = None
        context = self.get_context_data(run=run, spec=spec, run_versions=versions.run_versions(run))
        return render(request, "toolruns/run_detail.html", context)


class RunCancelView(ProjectScopedView):
    policy_action = Action.TOOLRUN_CANCEL

    def post(self, request, run_id: int, **kwargs):
        run = selectors.run_get(self.project, run_id)
        if run is None:
            raise Http404("Not found")
        try:
            run = services.toolrun_cancel(actor=request.user, run=run)
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            if run.status == ToolRun.Status.CANCELLED:
                messages.success(request, _("Run cancelled."))
            else:
                messages.info(request, _("Stopping the run… it ends within a few seconds."))
        if request.POST.get("back") == "tools":
            return redirect("toolruns:tools", studio=self.studio.slug, project=self.project.code)
        return redirect("toolruns:run", studio=self.studio.slug, project=self.project.code, run_id=run.pk)
