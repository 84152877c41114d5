"""A run's output set: every output of one finished run, approved (or rejected, or sent back for
changes) by a producer in one action.

The decision itself is review's (`review.services.set_decision_create`: one transaction, each member's
decision bound to its exact SHA-256 and stamped on its version row, so the download gate and the
review page read it as they read any approval). This module says who the members are (the run's
outputs), what state each is in now, and names the set "toolrun:<id>" for review, which never
imports toolruns. A member that changes after the decision (other bytes, or a newer version of that
output) is pending again on its own: its row no longer matches; the others keep their approval."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _

from portal.access.enforce import require
from portal.access.policy import Action
from portal.core.errors import Conflict
from portal.footage.models import AssetVersion
from portal.review import services as review
from portal.review.models import DecisionSet
from portal.toolruns.models import ToolRun
from portal.toolruns.wording import tool_title

# How many of the set's past decisions the page and the API show.
HISTORY = 10


def set_key(run: ToolRun) -> str:
    return f"toolrun:{run.pk}"


def set_label(run: ToolRun) -> str:
    return _("%(tool)s run #%(id)s") % {"tool": tool_title(run.tool), "id": run.pk}


def run_page_url(run: ToolRun) -> str:
    project = run.project
    url = reverse("toolruns:run", kwargs={"studio": project.studio.slug, "project": project.code, "run_id": run.pk})
    return f"{url}#output-set"


def state_words(state: str) -> str:
    """A member's or the set's state, for people."""
    return {
        review.SET_EMPTY: _("No outputs"),
        review.SET_PENDING: _("Pending review"),
        review.SET_APPROVED: _("Approved"),
        review.SET_PARTLY_APPROVED: _("Partly approved"),
        review.SET_MIXED: _("Mixed: see each output"),
        review.SUPERSEDED: _("A newer version awaits review"),
        "changes_requested": _("Changes requested"),
        "rejected": _("Rejected"),
    }.get(state, state)


def _outputs(run: ToolRun) -> list:
    # run.outputs is prefetched with version__asset by the run selectors; a bare run asks once.
    return sorted(run.outputs.all(), key=lambda o: o.name)


def output_set(run: ToolRun) -> dict[str, Any]:
    """The set as the run page and the API show it: its state, each member (output name, version,
    SHA-256, approval state, released, download link once released, a newer version if there is
    one) and its last decisions. A fixed number of queries whatever the number of outputs."""
    outputs = _outputs(run)
    project = run.project
    newest: dict[int, tuple[int, int]] = {}  # asset id -> (version id, number) of its newest version
    asset_ids = {o.version.asset_id for o in outputs}
    if asset_ids:
        for pk, asset_id, number in AssetVersion.objects.filter(asset_id__in=asset_ids).values_list("pk", "asset_id", "number"):
            if asset_id not in newest or number > newest[asset_id][1]:
                newest[asset_id] = (pk, number)
    members = []
    for output in outputs:
        version = output.version
        top = newest.get(version.asset_id)
        superseded = top is not None and top[1] > version.number
        state = review.SUPERSEDED if superseded else version.approval_state
        released = version.released_file is not None
        kwargs = {"studio": project.studio.slug, "project": project.code}
        members.append(
            {
                "output": output,
                "name": output.name,
                "label": output.shown_label or output.name,
                "asset": version.asset_id,
                "version": version.pk,
                "number": version.number,
                "sha256": version.sha256,
                "state": state,
                "state_label": state_words(state),
                "released": released,
                "release_hold": version.release_hold,
                "download_url": reverse("footage:download", kwargs={**kwargs, "version_id": version.pk}) if released else None,
                "review_url": reverse("review:review", kwargs={**kwargs, "version_id": version.pk}),
                "newer": {"version": top[0], "number": top[1]} if superseded else None,
            }
        )
    state = review.set_state([m["state"] for m in members])
    decisions = list(
        DecisionSet.objects.filter(project=project, key=set_key(run))
        .select_related("decided_by")
        .order_by("-created_at", "-pk")[:HISTORY]
    )
    decidable = run.status == ToolRun.Status.SUCCEEDED and bool(members) and not any(m["newer"] for m in members)
    return {
        "key": set_key(run),
        "label": set_label(run),
        "state": state,
        "state_label": state_words(state),
        "members": members,
        "decisions": decisions,
        "decidable": decidable,
    }


def blockers(run: ToolRun) -> list[str]:
    """What holds back approving the whole set now (a recap's unsigned narration), per member, for the
    producer's form: the same check the decision makes."""
    found = []
    for output in _outputs(run):
        reason = review.approval_blocker(output.version)
        if reason:
            found.append(f"{output.label or output.name}: {reason}")
    return found


def run_set_decide(*, actor, run: ToolRun, verdict: str, note: str = "", expected: dict[int, str] | None = None) -> DecisionSet:
    """A producer approves, rejects or asks for changes on every output of a finished run at once.
    `expected` ({version id: SHA-256}, what the producer looked at) makes a changed member a 409."""
    require(actor, Action.PLATE_APPROVE, run.project)
    if run.status != ToolRun.Status.SUCCEEDED:
        raise Conflict(_("Only the outputs of a run that succeeded can be decided on together."), code="not_finished")
    outputs = _outputs(run)
    return review.set_decision_create(
        actor=actor,
        project=run.project,
        key=set_key(run),
        label=set_label(run),
        versions=[o.version for o in outputs],
        verdict=verdict,
        note=note,
        expected=expected,
        names={o.version_id: o.label or o.name for o in outputs},
        link=run_page_url(run),
    )
