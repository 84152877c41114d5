"""Runs as versions, for the pages: what a run's outputs are versions of, and the choice the start form
offers (new versions of an earlier run of the tool, or new assets). The stacking itself happens where
the outputs are stored (services._store_outputs, through footage.generated_version_create)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext as _

from portal.toolruns.models import ToolRun, ToolRunOutput

# The start form's choice: "" leaves it to the portal, "new" makes new assets, a run id stacks on that run.
AUTOMATIC = ""
NEW_ASSETS = "new"
EARLIER_RUNS_OFFERED = 20


@dataclass
class RunVersions:
    """The run page's "versions" block."""

    earlier: ToolRun | None = None
    stacked: list[ToolRunOutput] = field(default_factory=list)  # outputs that are v2+ of an earlier run's output
    newer: list[ToolRun] = field(default_factory=list)  # runs that are new versions of this one
    sentence: str = ""

    @property
    def shown(self) -> bool:
        return self.earlier is not None or bool(self.newer)


def run_versions(run: ToolRun) -> RunVersions:
    """What the run page says about versions (the run's outputs are prefetched with their versions)."""
    info = RunVersions(earlier=run.new_version_of, newer=list(run.new_versions.order_by("pk")))
    if info.earlier is None:
        return info
    info.stacked = [o for o in run.outputs.all() if o.version.number > 1]
    if run.status != ToolRun.Status.SUCCEEDED:
        info.sentence = _(
            "New version of run #%(run)s: its outputs become the next versions of that run's outputs of the same name."
        ) % {"run": info.earlier.pk}
    elif info.stacked:
        outputs = ", ".join(
            _("v%(number)s of “%(name)s”") % {"number": o.version.number, "name": o.version.asset.name} for o in info.stacked
        )
        info.sentence = _("New version of run #%(run)s: outputs are %(outputs)s.") % {"run": info.earlier.pk, "outputs": outputs}
    else:
        info.sentence = _(
            "New version of run #%(run)s, but none of its outputs has the name of one of that run's outputs: they are new assets."
        ) % {"run": info.earlier.pk}
    return info


def _run_label(run: ToolRun) -> str:
    inputs = ", ".join(f"{i.get('name')} v{i.get('number')}" for i in run.inputs or [] if not i.get("character"))
    when = date_format(localtime(run.created_at), "Y-m-d H:i")
    return _("New versions of run #%(run)s (%(when)s; %(inputs)s)") % {"run": run.pk, "when": when, "inputs": inputs or "—"}


def start_choices(project, tool: str, *, chosen: str = AUTOMATIC) -> list[tuple[str, str]]:
    """(value, words) for the start form's "outputs" choice: automatic, new assets, then the newest
    succeeded runs of the tool in the project (and the chosen one, even when older)."""
    runs = list(
        ToolRun.objects.filter(project=project, tool=tool, status=ToolRun.Status.SUCCEEDED).order_by("-created_at", "-pk")[
            :EARLIER_RUNS_OFFERED
        ]
    )
    if chosen.isdigit() and all(str(r.pk) != chosen for r in runs):
        extra = ToolRun.objects.filter(project=project, tool=tool, pk=int(chosen)).first()
        if extra is not None:
            runs.append(extra)
    return [
        (AUTOMATIC, _("Automatic: new versions of the latest run of this tool on the same inputs, if there is one")),
        (NEW_ASSETS, _("New assets (v1), whatever ran before")),
        *((str(r.pk), _run_label(r)) for r in runs),
    ]


def choice_from_post(raw: str):
    """The service's `new_version_of` from the form's value ("" automatic, "new", or a run id)."""
    from portal.toolruns.services import AUTO

    raw = (raw or "").strip()
    if raw == AUTOMATIC:
        return AUTO
    if raw == NEW_ASSETS:
        return None
    return raw  # a run id, or something the service refuses in words


def again_from(run: ToolRun) -> dict:
    """The start form filled in like `run`: same inputs (by slot, in order) and parameters, and its
    outputs' next versions (a run that did not succeed has no outputs: then what it was a version of)."""
    selected: dict[str, list[int]] = {}
    for item in run.inputs or []:
        if item.get("character"):
            continue  # the character sheet's stills join again when the sheet is chosen
        selected.setdefault(item["slot"], []).append(item["version"])
    if run.status == ToolRun.Status.SUCCEEDED:
        chosen = str(run.pk)
    elif run.new_version_of_id:
        chosen = str(run.new_version_of_id)
    else:
        chosen = AUTOMATIC
    return {"values": dict(run.params or {}), "selected": selected, "new_version_of": chosen}
