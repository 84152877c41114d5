"""Every read of tool runs: always scoped to one project."""

from __future__ import annotations

from django.db.models import Count, OuterRef, Prefetch, Q, Subquery, Window
from django.db.models.functions import Coalesce

from portal.projects.models import Project
from portal.toolruns.models import ToolRun, ToolRunOutput


def runs_for_project(project: Project):
    outputs = ToolRunOutput.objects.select_related("version__asset", "run__project__studio")
    return (
        ToolRun.objects.filter(project=project)
        .select_related("created_by", "project__studio")
        .prefetch_related(Prefetch("outputs", queryset=outputs))
    )


def run_get(project: Project, run_id) -> ToolRun | None:
    return runs_for_project(project).filter(pk=run_id).first()


# What a line of the project page's "Tools" section shows of a run: no outputs, no reports.
BRIEF_FIELDS = ("id", "project_id", "tool", "status", "progress", "cancel_requested", "created_at")
# What a row of the run table shows: the run's own columns without its JSON (params, inputs, report,
# metrics, provenance can be large) and the outputs as a count.
TABLE_DEFERRED = ("params", "inputs", "report", "metrics", "provenance")


def recent_runs(project: Project, limit: int = 50) -> list[ToolRun]:
    """The latest runs, for a short list of links: one light query (the full rows with their outputs
    cost six times the CPU, for fields a link never shows)."""
    return list(ToolRun.objects.filter(project=project).only(*BRIEF_FIELDS)[:limit])


def recent_runs_and_active_count(project: Project, limit: int = 5) -> tuple[list[ToolRun], int]:
    """recent_runs() and active_run_count() in one query: each row carries the project's count of
    waiting and running runs (a window over all its runs, taken before the LIMIT). No run, no active one."""
    active = Window(Count("pk", filter=Q(status__in=ToolRun.ACTIVE)))
    runs = list(ToolRun.objects.filter(project=project).only(*BRIEF_FIELDS).annotate(_active=active)[:limit])
    return runs, (runs[0]._active if runs else 0)


def runs_for_table(project: Project):
    """The project's runs for the run table (tools page and its live fragment), newest first, each with
    `output_count` and its starter; one query per page whatever the number of runs or outputs."""
    outputs = ToolRunOutput.objects.filter(run=OuterRef("pk")).order_by().values("run").annotate(n=Count("pk")).values("n")
    return (
        ToolRun.objects.filter(project=project)
        .select_related("created_by")
        .defer(*TABLE_DEFERRED)
        .annotate(output_count=Coalesce(Subquery(outputs), 0))
    )


def active_run_count(project: Project) -> int:
    return ToolRun.objects.filter(project=project, status__in=ToolRun.ACTIVE).count()
