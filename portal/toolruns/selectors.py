"""Every read of tool runs: always scoped to one project."""

from __future__ import annotations

from django.db.models import Prefetch

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


def recent_runs(project: Project, limit: int = 50) -> list[ToolRun]:
    return list(runs_for_project(project)[:limit])


def active_run_count(project: Project) -> int:
    return ToolRun.objects.filter(project=project, status__in=ToolRun.ACTIVE).count()
