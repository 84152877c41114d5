"""Starting and cancelling runs: the service rules a user meets before any worker is involved."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from portal.audit.models import AuditEvent
from portal.core.errors import Conflict
from portal.footage.models import Asset, AssetVersion
from portal.projects.services import project_archive
from portal.studios.services import studio_update
from portal.toolruns import services
from portal.toolruns.models import ToolRun
from portal.toolruns.services import ExternalAINotAllowed
from tests.footage.helpers import make_ready_version


def start(world, version, *, who="artist", tool="contactsheet", params=None, inputs=None):
    return services.toolrun_create(
        actor=world.a.users[who],
        project=world.a.project,
        tool=tool,
        params=params or {},
        input_version_ids=inputs if inputs is not None else [version.pk],
    )


@pytest.fixture
def clip(world):
    return make_ready_version(world.a.project, uploader=world.a.users["artist"], name="shot_010.mov")


@pytest.mark.parametrize("who", ["producer", "director", "artist"])
def test_roles_that_may_run_tools_start_a_queued_run(world, clip, who, django_capture_on_commit_callbacks, dispatched, events):
    with django_capture_on_commit_callbacks(execute=True):
        run = start(world, clip, who=who, params={"columns": 3})
    assert run.status == ToolRun.Status.QUEUED and run.attempts == 0
    assert run.tool == "contactsheet" and run.tool_version == "1.0.0"
    # validated and completed with the defaults, as the tool will see them
    assert run.params == {"columns": 3, "rows": 4, "thumb_width": 320, "timecodes": True}
    assert run.inputs == [
        {
            "version": clip.pk,
            "asset": clip.asset_id,
            "number": 1,
            "slot": "clip",
            "kind": "footage",
            "name": "shot_010.mov",
            "original_name": "shot_010.mov",
            "sha256": clip.sha256,
        }
    ]
    assert list(run.input_versions.all()) == [clip]
    assert run.created_by == world.a.users[who]
    # handed to the tools queue once committed, announced to the project
    assert dispatched == [(run.pk, "tools")]
    [queued] = [e for e in events if e["type"] == "toolrun.queued"]
    assert queued["run"] == run.pk and queued["status"] == "queued" and queued["project"] == world.a.project.pk
    row = AuditEvent.objects.get(action="toolrun.start", target_id=str(run.pk))
    assert row.actor == world.a.users[who] and row.details["tool"] == "contactsheet"
    assert row.details["inputs"] == [{"version": clip.pk, "slot": "clip", "sha256": clip.sha256}]


def test_nothing_is_dispatched_or_announced_before_commit(world, clip, django_capture_on_commit_callbacks, dispatched, events):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        start(world, clip)
    assert dispatched == [] and events == []
    assert len(callbacks) == 2  # the live event and the dispatch, both waiting for the commit


@pytest.mark.parametrize(
    ("who", "refusal"), [("viewer", PermissionDenied), ("member", Http404), ("studio_admin", PermissionDenied)]
)
def test_roles_without_toolrun_start_are_refused_and_audited(world, clip, who, refusal):
    with pytest.raises(refusal):
        start(world, clip, who=who)
    assert not ToolRun.objects.exists()
    row = AuditEvent.objects.get(action="access.denied", actor=world.a.users[who])
    assert row.details["attempted"] == "toolrun.start"


def test_another_studios_user_cannot_start_in_my_project(world, clip):
    with pytest.raises(Http404):
        services.toolrun_create(
            actor=world.b.users["producer"], project=world.a.project, tool="contactsheet", params={}, input_version_ids=[clip.pk]
        )
    assert not ToolRun.objects.exists()


def test_archived_project_runs_nothing(world, clip):
    project_archive(actor=world.a.users["studio_admin"], project=world.a.project)
    world.a.project.refresh_from_db()
    with pytest.raises(PermissionDenied):
        start(world, clip)


def test_bad_params_are_reported_per_field(world, clip):
    with pytest.raises(ValidationError) as caught:
        start(world, clip, params={"columns": 0, "rows": "many", "colums": 3})
    errors = caught.value.message_dict
    assert set(errors) == {"params.columns", "params.rows", "params.colums"}
    assert errors["params.columns"] == ["Columns must be at least 1. You entered 0."]
    assert errors["params.colums"] == [
        "“colums” is not a setting of Contact sheet (its settings: columns, rows, thumb_width, timecodes)."
    ]
    assert not ToolRun.objects.exists()


def test_unknown_tool_is_a_validation_error(world, clip):
    with pytest.raises(ValidationError) as caught:
        start(world, clip, tool="no_such_tool")
    assert "no_such_tool" in caught.value.message_dict["tool"][0]


def _input_errors(world, inputs, tool="contactsheet") -> list[str]:
    with pytest.raises(ValidationError) as caught:
        start(world, None, inputs=inputs, tool=tool)
    assert not ToolRun.objects.exists()
    return caught.value.message_dict["inputs"]


def test_another_projects_version_answers_like_a_missing_one(world):
    theirs = make_ready_version(world.b.project, uploader=world.b.users["artist"])
    leaked = _input_errors(world, [theirs.pk])
    missing = _input_errors(world, [10**9])
    assert leaked == [f"Version {theirs.pk} does not exist in this project."]
    assert missing == [f"Version {10**9} does not exist in this project."]


def test_inputs_of_the_wrong_kind_or_not_ready_are_refused_with_a_clear_reason(world):
    artist = world.a.users["artist"]
    subtitles = make_ready_version(world.a.project, uploader=artist, kind=Asset.Kind.SUBTITLES, name="en.srt")
    assert _input_errors(world, [subtitles.pk]) == ["en.srt v1 is subtitles; Contact sheet does not take subtitles inputs."]
    processing = make_ready_version(world.a.project, uploader=artist, name="late.mov")
    AssetVersion.objects.filter(pk=processing.pk).update(status=AssetVersion.Status.PROCESSING)
    assert _input_errors(world, [processing.pk]) == ["late.mov v1 is not ready to use (processing)."]
    generated = make_ready_version(world.a.project, uploader=artist, kind=Asset.Kind.GENERATED, name="sheet.png")
    assert _input_errors(world, [generated.pk]) == ["sheet.png v1 is a generated asset; Contact sheet does not take those."]


def test_input_counts_slots_and_shapes_are_checked(world):
    artist = world.a.users["artist"]
    one = make_ready_version(world.a.project, uploader=artist, name="one.mov")
    two = make_ready_version(world.a.project, uploader=artist, name="two.mov")
    assert _input_errors(world, []) == ["Contact sheet takes exactly 1 footage or plate input(s) for “clip”; 0 given."]
    assert _input_errors(world, [one.pk, two.pk]) == [
        "Contact sheet takes exactly 1 footage or plate input(s) for “clip”; 2 given."
    ]
    assert _input_errors(world, [one.pk, one.pk]) == ["The same version is given twice."]
    assert _input_errors(world, {"before": [one.pk]}) == ["Contact sheet has no input called “before”."]
    assert _input_errors(world, ["abc"]) == ["“abc” is not a version id."]
    # the explicit-slot form works too
    run = start(world, None, inputs={"clip": [one.pk]})
    assert run.inputs[0]["slot"] == "clip"


def test_external_ai_tool_is_refused_unless_the_studio_allows_it(world, clip):
    with pytest.raises(ExternalAINotAllowed) as caught:
        start(world, clip, tool="external_ai_demo")
    assert "does not allow" in caught.value.message and caught.value.status_code == 403
    assert not ToolRun.objects.exists()
    row = AuditEvent.objects.get(action="access.denied", actor=world.a.users["artist"])
    assert row.details == {"attempted": "toolrun.start", "answered": 403}

    studio_update(actor=world.a.users["studio_admin"], studio=world.a.studio, allow_external_ai=True)
    world.a.project.refresh_from_db()
    run = services.toolrun_create(
        actor=world.a.users["artist"],
        project=type(world.a.project).objects.select_related("studio").get(pk=world.a.project.pk),
        tool="external_ai_demo",
        params={},
        input_version_ids=[clip.pk],
    )
    assert run.status == ToolRun.Status.QUEUED


# --- cancel -----------------------------------------------------------------------------------


def test_cancelling_a_queued_run_ends_it_at_once(world, clip, django_capture_on_commit_callbacks, events):
    run = start(world, clip)
    with django_capture_on_commit_callbacks(execute=True):
        run = services.toolrun_cancel(actor=world.a.users["director"], run=run)
    assert run.status == ToolRun.Status.CANCELLED and run.finished_at is not None and run.cancel_requested
    assert [e["status"] for e in events if e["type"] == "toolrun.finished"] == ["cancelled"]
    assert AuditEvent.objects.filter(action="toolrun.cancel", actor=world.a.users["director"]).count() == 1
    # its message, still in the queue, finds nothing to do
    assert services.toolrun_execute(run.pk) is None
    run.refresh_from_db()
    assert run.status == ToolRun.Status.CANCELLED and run.attempts == 0


def test_cancelling_a_running_run_asks_its_worker_to_stop(world, clip):
    run = start(world, clip)
    ToolRun.objects.filter(pk=run.pk).update(status=ToolRun.Status.RUNNING)
    run = services.toolrun_cancel(actor=world.a.users["artist"], run=run)
    assert run.status == ToolRun.Status.RUNNING and run.cancel_requested
    # asking twice is not an error, and not a second audit row
    services.toolrun_cancel(actor=world.a.users["artist"], run=run)
    assert AuditEvent.objects.filter(action="toolrun.cancel").count() == 1


def test_a_finished_run_cannot_be_cancelled(world, clip):
    run = start(world, clip)
    ToolRun.objects.filter(pk=run.pk).update(status=ToolRun.Status.SUCCEEDED)
    with pytest.raises(Conflict):
        services.toolrun_cancel(actor=world.a.users["artist"], run=run)


@pytest.mark.parametrize(("who", "refusal"), [("viewer", PermissionDenied), ("member", Http404)])
def test_cancel_needs_toolrun_cancel(world, clip, who, refusal):
    run = start(world, clip)
    with pytest.raises(refusal):
        services.toolrun_cancel(actor=world.a.users[who], run=run)
    run.refresh_from_db()
    assert run.status == ToolRun.Status.QUEUED and not run.cancel_requested
