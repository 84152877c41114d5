"""The run page's "Approve all outputs" form (templates/toolruns/_output_set.html) posts here: a
producer decides on every output of the run at once. A refusal shows on the run page itself, with
the reason and the note kept; a success goes back to the run page."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import ngettext

from portal.access.policy import Action
from portal.core.errors import ServiceError
from portal.toolruns import output_sets, selectors
from portal.toolruns.views import RunDetailView

EXPECTED_PREFIX = "expected-"


def expected_from_post(post) -> dict[int, str]:
    """The SHA-256 of each member as the page showed it: hidden fields expected-<version id>."""
    found = {}
    for key, value in post.items():
        if key.startswith(EXPECTED_PREFIX) and key[len(EXPECTED_PREFIX) :].isdigit():
            found[int(key[len(EXPECTED_PREFIX) :])] = value.strip()
    return found


def decided_words(decision_set) -> str:
    n, label = len(decision_set.members), decision_set.label
    if decision_set.verdict == "approved":
        text = ngettext("The output of %(label)s is approved.", "All %(n)d outputs of %(label)s are approved.", n)
    elif decision_set.verdict == "rejected":
        text = ngettext("The output of %(label)s is rejected.", "All %(n)d outputs of %(label)s are rejected.", n)
    else:
        text = ngettext(
            "Changes are requested on the output of %(label)s.", "Changes are requested on all %(n)d outputs of %(label)s.", n
        )
    return text % {"n": n, "label": label}


class RunOutputSetView(RunDetailView):
    """POST: the producer's decision on the run's output set. GET: the run page's set block."""

    policy_actions = {"GET": Action.FOOTAGE_VIEW, "POST": Action.PLATE_APPROVE}

    def get(self, request, run_id: int, **kwargs):
        url = reverse("toolruns:run", kwargs={"studio": self.studio.slug, "project": self.project.code, "run_id": run_id})
        return redirect(f"{url}#output-set")

    def post(self, request, run_id: int, **kwargs):
        run = selectors.run_get(self.project, run_id)
        if run is None:
            raise Http404("Not found")
        verdict = request.POST.get("verdict", "")
        note = request.POST.get("note", "")
        try:
            decision_set = output_sets.run_set_decide(
                actor=request.user, run=run, verdict=verdict, note=note, expected=expected_from_post(request.POST) or None
            )
        except ValidationError as exc:
            errors = [str(m) for msgs in exc.message_dict.values() for m in msgs] if hasattr(exc, "error_dict") else exc.messages
            status = 400
        except ServiceError as exc:
            errors, status = [exc.message], exc.status_code
        else:
            messages.success(request, decided_words(decision_set))
            return self.get(request, run_id=run_id, **kwargs)
        self.output_set_form = {"errors": errors, "note": note, "verdict": verdict}
        response = RunDetailView.get(self, request, run_id=run_id, **kwargs)
        response.status_code = status
        return response

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["output_set_form"] = getattr(self, "output_set_form", None)
        return context
