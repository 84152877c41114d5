"""Tool-run state for tests about something else (access matrix...): a queued run of the demo tool,
started through the service like a user would."""

from __future__ import annotations

from portal.toolruns import services
from portal.toolruns.models import ToolRun


def start_run(project, *, actor, version, tool: str = "contactsheet", params: dict | None = None) -> ToolRun:
    return services.toolrun_create(actor=actor, project=project, tool=tool, params=params or {}, input_version_ids=[version.pk])


def recover_runs() -> dict[str, int]:
    """The job engine's recovery pass over tool runs alone: its counts for them."""
    from portal import jobs

    return jobs.recover(only=[services.JOB_KIND])[services.JOB_KIND]
