"""The events, as the services where they happen announce them (one call each, inside their
transaction). Payloads carry ids, states, hashes and links, not content: a note's text or a
decision's comment is read through the API with a token that may read it (a studio admin who
registers an endpoint does not, by the policy, see the project's footage)."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from portal.webhooks.models import Event
from portal.webhooks.services import emit


def _absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _version(version) -> dict:
    project = version.asset.project
    return {
        "id": version.pk,
        "number": version.number,
        "sha256": version.sha256,
        "size": version.size,
        "asset": {
            "id": version.asset_id,
            "name": version.asset.name,
            "kind": version.asset.kind,
            "shot_code": version.asset.shot_code,
        },
        "links": {
            "api": _absolute(reverse("api:project-version-detail", kwargs={"project_pk": project.pk, "pk": version.pk})),
            "review": _absolute(
                reverse(
                    "review:review", kwargs={"studio": project.studio.slug, "project": project.code, "version_id": version.pk}
                )
            ),
        },
    }


def run_finished(run) -> None:
    """A tool run ended: succeeded, failed or cancelled."""
    project = run.project

    def data() -> dict:
        outputs = [
            {"name": o.name, "kind": o.kind, "version": o.version_id, "asset": o.version.asset_id, "sha256": o.version.sha256}
            for o in run.outputs.select_related("version")
        ]
        page = reverse("toolruns:run", kwargs={"studio": project.studio.slug, "project": project.code, "run_id": run.pk})
        return {
            "run": {
                "id": run.pk,
                "tool": run.tool,
                "tool_version": run.tool_version,
                "status": run.status,
                "attempts": run.attempts,
                "created_by": getattr(run.created_by, "email", None),
                "started_at": run.started_at,
                "finished_at": run.finished_at,
                "outputs": outputs,
                "links": {
                    "api": _absolute(reverse("api:project-toolrun-detail", kwargs={"project_pk": project.pk, "pk": run.pk})),
                    "page": _absolute(page),
                },
            }
        }

    emit(project=project, event_type=Event.RUN_FINISHED, data=data)


def decision_made(decision) -> None:
    """A producer approved a generated output, rejected it or asked for changes."""
    event = Event.OUTPUT_APPROVED if decision.verdict == "approved" else Event.OUTPUT_REJECTED
    version = decision.version

    def data() -> dict:
        return {
            "decision": {
                "id": decision.pk,
                "verdict": decision.verdict,
                "sha256": decision.sha256,
                "decided_by": getattr(decision.decided_by, "email", None),
                "decided_at": decision.created_at,
                # the run's output set it was decided with (one event per member), or null
                "set": decision.decision_set_id,
            },
            "version": _version(version),
        }

    emit(project=version.asset.project, event_type=event, data=data)


def note_added(note) -> None:
    """A person added a note (or a reply) on a version."""
    version = note.version

    def data() -> dict:
        return {
            "note": {
                "id": note.pk,
                "frame_start": note.frame_start,
                "frame_end": note.frame_end,
                "reply_to": note.parent_id,
                "author": getattr(note.author, "email", None),
                "source": note.source,
                "created_at": note.created_at,
            },
            "version": _version(version),
        }

    emit(project=version.asset.project, event_type=Event.NOTE_ADDED, data=data)


def asset_ready(version, *, project=None) -> None:
    """A version finished processing (an upload's ingest, or a tool run's output) and can be used.
    The version is read again when the payload is built: the caller's copy may predate the update."""
    from portal.footage.models import AssetVersion

    def data() -> dict:
        fresh = AssetVersion.objects.select_related("asset__project__studio").get(pk=version.pk)
        return {"version": _version(fresh)}

    emit(project=project or version.asset.project, event_type=Event.ASSET_READY, data=data)
