"""Runs as versions: a re-run of a tool (same tool, same input assets, or an explicit "new version of
run #N") stacks each output on the earlier run's output of the same name (v2, v3...); outputs with no
match, and runs on other inputs, make new assets. The choice is refused in words when it names a run
of another project or tool, or one that has no outputs. Real runs of the suite's sleeper tool (one
text output, "result"), executed as the worker does."""

from __future__ import annotations

import re
import threading
import time

import pytest
from django.db import connection, connections

from portal.audit.models import AuditEvent
from portal.footage import services as footage_services
from portal.footage.models import Asset, AssetVersion
from portal.review import services as review_services
from portal.toolruns import services
from portal.toolruns.models import ToolRun, ToolRunOutput
from tests.footage.helpers import make_ready_version
from tests.toolruns.conftest import store_real_file

SLEEPER = {"steps": 1, "step_seconds": 0.0}


def start(world, version, *, new_version_of=services.AUTO, tool="sleeper", params=None, who="artist") -> ToolRun:
    return services.toolrun_create(
        actor=world.a.users[who],
        project=world.a.project,
        tool=tool,
        params=SLEEPER if params is None else params,
        input_version_ids=[version.pk],
        new_version_of=new_version_of,
    )


def run_to_the_end(world, version, **kwargs) -> ToolRun:
    run = services.toolrun_execute(start(world, version, **kwargs).pk)
    assert run.status == ToolRun.Status.SUCCEEDED, run.error
    return run


def the_output(run: ToolRun) -> AssetVersion:
    [output] = ToolRunOutput.objects.filter(run=run).select_related("version__asset")
    return output.version


def next_version_of(version: AssetVersion, lavfi_clip) -> AssetVersion:
    """A newer upload of the same input asset (v2 of the plate), ready, with real bytes."""
    newer = AssetVersion.objects.create(
        asset=version.asset,
        number=version.number + 1,
        status=AssetVersion.Status.READY,
        original_name=version.original_name,
        file_key=f"{version.file_key}-v2",
        uploaded_by=version.uploaded_by,
    )
    return store_real_file(newer, lavfi_clip)


@pytest.mark.django_db(transaction=True)
def test_a_rerun_on_the_same_input_assets_stacks_its_outputs_as_the_next_versions(world_tx, clip_version, lavfi_clip):
    world = world_tx
    clip = clip_version(world.a.project, world.a.users["artist"])
    first = run_to_the_end(world, clip)
    assert first.new_version_of is None
    v1 = the_output(first)
    assert (v1.number, v1.asset.name, v1.asset.kind) == (1, "Sleeper result", Asset.Kind.GENERATED)

    # the same tool on the same input: found by itself, the output is v2 of the same asset
    second = start(world, clip, params={"steps": 2, "step_seconds": 0.0})
    assert second.new_version_of_id == first.pk
    second = services.toolrun_execute(second.pk)
    v2 = the_output(second)
    assert (v2.asset_id, v2.number, v2.status) == (v1.asset_id, 2, AssetVersion.Status.READY)
    assert v2.provenance["new_version_of_run"] == first.pk and v2.provenance["run"] == second.pk
    start_row = AuditEvent.objects.get(action="toolrun.start", target_id=str(second.pk))
    assert start_row.details["new_version_of"] == first.pk

    # after a new upload of the input (v2 of the plate) it still stacks: the same *assets*, on the newest run
    newer_clip = next_version_of(clip, lavfi_clip)
    third = run_to_the_end(world, newer_clip)
    assert third.new_version_of_id == second.pk
    v3 = the_output(third)
    assert (v3.asset_id, v3.number) == (v1.asset_id, 3)
    assert list(v1.asset.versions.values_list("number", flat=True)) == [3, 2, 1]

    # another input asset is another run's business: a new asset, v1
    other = clip_version(world.a.project, world.a.users["artist"], name="other.mp4")
    elsewhere = run_to_the_end(world, other)
    assert elsewhere.new_version_of is None
    assert the_output(elsewhere).number == 1 and the_output(elsewhere).asset_id != v1.asset_id


@pytest.mark.django_db(transaction=True)
def test_the_explicit_choice_new_assets_or_a_named_run_and_matching_by_output_name(world_tx, clip_version):
    world = world_tx
    clip = clip_version(world.a.project, world.a.users["artist"])
    other = clip_version(world.a.project, world.a.users["artist"], name="other.mp4")
    first = run_to_the_end(world, clip)

    # "new assets" even on the same inputs
    fresh = run_to_the_end(world, clip, new_version_of=None)
    assert fresh.new_version_of is None
    assert the_output(fresh).number == 1 and the_output(fresh).asset_id != the_output(first).asset_id

    # a named run stacks even on other inputs
    named = run_to_the_end(world, other, new_version_of=first.pk)
    assert named.new_version_of_id == first.pk
    assert (the_output(named).asset_id, the_output(named).number) == (the_output(first).asset_id, 2)

    # an output whose name no output of the earlier run has becomes a new asset
    ToolRunOutput.objects.filter(run=fresh).update(name="an-older-name")
    unmatched = run_to_the_end(world, clip, new_version_of=str(fresh.pk))
    assert unmatched.new_version_of_id == fresh.pk
    assert the_output(unmatched).number == 1
    assert the_output(unmatched).asset_id not in {the_output(first).asset_id, the_output(fresh).asset_id}


def test_a_wrong_earlier_run_is_refused_in_words_and_nothing_is_written(world, clip_version):
    clip = clip_version(world.a.project, world.a.users["artist"])
    elsewhere = make_ready_version(world.b.project, uploader=world.b.users["artist"])
    other_project = services.toolrun_create(
        actor=world.b.users["artist"], project=world.b.project, tool="sleeper", params=SLEEPER, input_version_ids=[elsewhere.pk]
    )
    other_tool = start(world, clip, tool="contactsheet", params={})
    ToolRun.objects.filter(pk=other_tool.pk).update(status=ToolRun.Status.SUCCEEDED)
    unfinished = start(world, clip)
    before = ToolRun.objects.count()

    cases = [
        (other_project.pk, f"There is no run #{other_project.pk} in this project."),
        (987654, "There is no run #987654 in this project."),
        (other_tool.pk, f"Run #{other_tool.pk} is a run of Contact sheet: the outputs of Sleeper (test tool) can only be"),
        (unfinished.pk, f"Run #{unfinished.pk} did not succeed (queued): it has no outputs to make new versions of."),
        ("twelve", "Give the number of an earlier run of this tool, or nothing for new assets."),
    ]
    for choice, words in cases:
        with pytest.raises(Exception) as caught:
            start(world, clip, new_version_of=choice)
        assert words in " ".join(caught.value.message_dict["new_version_of"]), choice
    assert ToolRun.objects.count() == before


def runs_url(project, *rest) -> str:
    return "/".join([f"/api/v1/projects/{project.pk}/toolruns", *map(str, rest)]) + "/"


@pytest.mark.django_db(transaction=True)
def test_the_api_takes_the_choice_refuses_a_wrong_one_and_shows_the_versions(world_tx, clip_version, api_for):
    world = world_tx
    clip = clip_version(world.a.project, world.a.users["artist"])
    first = run_to_the_end(world, clip)
    api = api_for(world.a.users["artist"])
    body = {"tool": "sleeper", "params": SLEEPER, "inputs": {"clip": [clip.pk]}}

    other_tool = start(world, clip, tool="contactsheet", params={})
    refused = api.post(runs_url(world.a.project), {**body, "new_version_of": other_tool.pk}, format="json")
    assert refused.status_code == 400
    assert "is a run of Contact sheet" in refused.json()["new_version_of"][0]
    assert "is a run of Contact sheet" in refused.json()["detail"]
    assert api.post(runs_url(world.a.project), {**body, "new_version_of": "x"}, format="json").status_code == 400

    assert api.post(runs_url(world.a.project), {**body, "new_version_of": None}, format="json").json()["new_version_of"] is None
    created = api.post(runs_url(world.a.project), {**body, "new_version_of": first.pk}, format="json")
    assert created.status_code == 201 and created.json()["new_version_of"] == first.pk
    automatic = api.post(runs_url(world.a.project), body, format="json").json()
    assert automatic["new_version_of"] == first.pk

    services.toolrun_execute(created.json()["id"])
    shown = api.get(runs_url(world.a.project, created.json()["id"])).json()
    [output] = shown["outputs"]
    assert (output["name"], output["number"], output["asset"]) == ("result", 2, the_output(first).asset_id)
    assert api.get(runs_url(world.a.project, first.pk)).json()["outputs"][0]["number"] == 1


@pytest.mark.django_db(transaction=True)
def test_the_pages_run_again_the_choice_the_run_page_and_review(world_tx, clip_version, client_for):
    world = world_tx
    clip = clip_version(world.a.project, world.a.users["artist"])
    first = run_to_the_end(world, clip, params={"steps": 3, "step_seconds": 0.0})
    base = f"/s/{world.a.studio.slug}/p/{world.a.project.code}"
    artist = client_for(world.a.users["artist"])

    # a finished run offers "Run again": the start form filled in like it, as a new version of it
    page = artist.get(f"{base}/runs/{first.pk}/").content.decode()
    assert f'href="{base}/tools/sleeper/start/?again={first.pk}"' in page and "Run again" in page
    assert "data-run-versions" not in page  # nothing to say about versions yet
    form = artist.get(f"{base}/tools/sleeper/start/?again={first.pk}").content.decode()
    assert f"Filled in like run #{first.pk}" in form
    assert re.search(rf'<option value="{first.pk}" selected>New versions of run #{first.pk} \(', form)
    assert re.search(rf'<option value="{clip.pk}"[^>]* selected>', form)
    assert re.search(r'name="param-steps" id="id-param-steps" value="3"', form)
    assert artist.get(f"{base}/tools/contactsheet/start/?again={first.pk}").status_code == 404  # another tool's run
    assert client_for(world.a.users["viewer"]).get(f"{base}/runs/{first.pk}/").content.decode().count("data-run-again") == 0

    # a wrong choice comes back in words next to the choice, nothing started
    other_tool = start(world, clip, tool="contactsheet", params={})
    before = ToolRun.objects.count()
    post = {"input-clip": str(clip.pk), "param-steps": "1", "param-step_seconds": "0", "new_version_of": str(other_tool.pk)}
    refused = artist.post(f"{base}/tools/sleeper/start/", post)
    assert refused.status_code == 400 and ToolRun.objects.count() == before
    assert f"Run #{other_tool.pk} is a run of Contact sheet" in refused.content.decode()

    # the form's choice, as the user would submit it
    started = artist.post(f"{base}/tools/sleeper/start/", {**post, "new_version_of": str(first.pk)})
    assert started.status_code == 302
    second = ToolRun.objects.latest("pk")
    assert second.new_version_of_id == first.pk
    pending = artist.get(f"{base}/runs/{second.pk}/").content.decode()
    assert f"New version of run #{first.pk}: its outputs become the next versions" in pending
    services.toolrun_execute(second.pk)
    v1, v2 = the_output(first), the_output(second)
    page = artist.get(f"{base}/runs/{second.pk}/").content.decode()
    assert f"New version of run #{first.pk}: outputs are v2 of “Sleeper result”." in page
    assert f'href="{base}/review/{v2.pk}/" data-compare-link>Compare Sleeper result v2 with v1 in review' in page
    earlier_page = artist.get(f"{base}/runs/{first.pk}/").content.decode()
    assert f"run #{second.pk}</a> (succeeded)" in earlier_page
    assert artist.post(f"{base}/tools/sleeper/start/", {**post, "new_version_of": "new"}).status_code == 302
    assert ToolRun.objects.latest("pk").new_version_of is None

    # review: v2 offers v1 to compare with; v1 says it is not the newest; an approval of v1 does not carry over
    producer = world.a.users["producer"]
    review_v2 = artist.get(f"{base}/review/{v2.pk}/")
    assert review_v2.status_code == 200, review_v2
    assert [v.pk for v in review_v2.context["compare_with"]][:1] == [v1.pk]
    review_v1 = artist.get(f"{base}/review/{v1.pk}/").content.decode()
    assert "v1 is not the newest version: v2 exists." in review_v1
    with pytest.raises(Exception, match="v1 is out of date: v2 exists"):
        review_services.decision_create(actor=producer, version=v1, verdict="approved")
    AssetVersion.objects.filter(pk=v1.pk).update(
        approval_verdict="approved", approval_sha256=v1.sha256, approved_sha256=v1.sha256
    )
    review_v2 = artist.get(f"{base}/review/{v2.pk}/").content.decode()
    assert "v1 was approved, but an approval is for one version's exact bytes: this v2 waits" in review_v2

    # the asset page shows the version stack
    asset_page = artist.get(f"{base}/assets/{v1.asset_id}/").content.decode()
    assert 'href="?v=2"' in asset_page and 'href="?v=1"' in asset_page
    assert f'href="{base}/runs/{second.pk}/" data-version-run>run #{second.pk}</a>' in asset_page
    assert f'href="{base}/runs/{first.pk}/" data-version-run>run #{first.pk}</a>' in asset_page


@pytest.mark.django_db(transaction=True)
def test_version_numbers_stay_unique_when_runs_stack_on_one_asset_at_once(world_tx, clip_version, monkeypatch):
    """Several sessions adding the next version of one generated asset at the same moment (each in its
    own transaction, as workers finishing runs do) get v2, v3, v4..., never the same number twice. The
    insert is slowed down so that, without the asset's lock, every session would count the same
    versions and the unique constraint would refuse all but one."""
    world = world_tx
    real_create = AssetVersion.objects.create

    def slow_create(**fields):
        time.sleep(0.2)
        return real_create(**fields)

    monkeypatch.setattr(AssetVersion.objects, "create", slow_create)
    first = run_to_the_end(world, clip_version(world.a.project, world.a.users["artist"]))
    asset_id = the_output(first).asset_id
    barrier = threading.Barrier(4)
    made: list[int] = []
    problems: list[BaseException] = []

    def add_version() -> None:
        try:
            AssetVersion.objects.filter(pk=0).exists()  # this thread's connection is open before the start
            barrier.wait(timeout=30)
            from django.db import transaction

            with transaction.atomic():
                footage_services.generated_assets_lock(project_id=world.a.project.pk, asset_ids=[asset_id])
                version = footage_services.generated_version_create(
                    project_id=world.a.project.pk,
                    name="ignored",
                    created_by=None,
                    original_name="result.txt",
                    size=1,
                    media_info={},
                    provenance={},
                    asset_id=asset_id,
                )
            made.append(version.number)
        except BaseException as exc:  # noqa: BLE001 - reported below
            problems.append(exc)
        finally:
            connections.close_all()

    if connection.vendor == "sqlite":
        connection.close()  # the threads open their own; SQLite (IMMEDIATE) queues their transactions
    threads = [threading.Thread(target=add_version) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert problems == []
    assert sorted(made) == [2, 3, 4, 5]
    assert sorted(AssetVersion.objects.filter(asset_id=asset_id).values_list("number", flat=True)) == [1, 2, 3, 4, 5]


# English words of the pages above that must not be left in a French page.
VERSION_WORDS = [
    "New version of run",
    "New versions of run",
    "Run again",
    "What the outputs become",
    "Automatic",
    "Compare",
    "in review",
    "not the newest",
    "was approved",
    "Filled in like",
    "Newer versions",
    "New assets",
    "Open run",
]


@pytest.mark.django_db(transaction=True)
def test_a_french_session_reads_the_versions_in_french(world_tx, clip_version, client_for):
    from tests.toolruns.test_french_walk import english_in, visible_text

    world = world_tx
    clip = clip_version(world.a.project, world.a.users["artist"])
    first = run_to_the_end(world, clip)
    second = run_to_the_end(world, clip)
    v1, v2 = the_output(first), the_output(second)
    AssetVersion.objects.filter(pk=v1.pk).update(
        approval_verdict="approved", approval_sha256=v1.sha256, approved_sha256=v1.sha256
    )
    base = f"/s/{world.a.studio.slug}/p/{world.a.project.code}"
    client = client_for(world.a.users["artist"])
    expected = {
        f"{base}/runs/{second.pk}/": f"Nouvelle version de l’exécution n° {first.pk} : les sorties sont v2 de « Sleeper result »",
        f"{base}/runs/{first.pk}/": "Versions plus récentes de ces sorties :",
        f"{base}/tools/sleeper/start/?again={second.pk}": f"Rempli comme l’exécution n° {second.pk}",
        f"{base}/review/{v1.pk}/": "La v1 n’est pas la version la plus récente : la v2 existe.",
        f"{base}/review/{v2.pk}/": "La v1 a été approuvée, mais une approbation vaut pour les octets exacts d’une seule version",
    }
    words = re.compile(r"(?<![\w-])(" + "|".join(re.escape(w) for w in VERSION_WORDS) + r")(?![\w-])")
    for url, french in expected.items():
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="fr")
        assert response.status_code == 200, url
        text = visible_text(response.content.decode())
        assert french in text, (url, text[:3000])
        assert english_in(text) == [] and words.findall(text) == [], (url, english_in(text), words.findall(text))
    refused = client.post(
        f"{base}/tools/sleeper/start/",
        {"input-clip": str(clip.pk), "param-steps": "1", "new_version_of": "987654"},
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    assert "Il n’y a pas d’exécution n° 987654 dans ce projet." in refused.content.decode()
