"""Tool runs on each model provider, end to end through the portal: the studio's choice gates the run,
the real SDK client of the provider reaches its (mocked) endpoint, and the run's provenance and audit
log say where the material went."""

from __future__ import annotations

import json

import pytest

from portal.audit.models import AuditEvent
from portal.providers import services as provider_services
from portal.providers.services import ProviderNotAllowed
from portal.studios import services as studio_services
from portal.toolruns import services
from portal.toolruns.models import ToolRun
from tests.providers.conftest import HOSTS, PROVIDERS

pytestmark = pytest.mark.django_db(transaction=True)


def studio_allows(world, *provider_ids, external_ai=True):
    admin = world.a.users["studio_admin"]
    studio_services.studio_update(actor=admin, studio=world.a.studio, allow_external_ai=external_ai)
    world.a.studio.refresh_from_db()
    for provider_id in provider_ids:
        provider_services.studio_provider_set_allowed(actor=admin, studio=world.a.studio, provider=provider_id, allowed=True)


def start(world, version, **params):
    return services.toolrun_create(
        actor=world.a.users["artist"], project=world.a.project, tool="ask_model", params=params, input_version_ids=[version.pk]
    )


@pytest.mark.parametrize("provider_id", ["anthropic", "bedrock-eu", "vertex-eu"])
def test_a_run_on_each_provider_records_provider_and_region_in_provenance_and_audit(
    world_tx, clip_version, providers_env, endpoint, provider_id
):
    world = world_tx
    studio_allows(world, provider_id)
    version = clip_version(world.a.project, world.a.users["artist"])
    run = start(world, version, external_ai=True, model="claude-sonnet-4-6")
    # one provider allowed: it is the run's, written into its params before it is queued
    assert run.params["ai_provider"] == provider_id

    run = services.toolrun_execute(run.pk)
    assert run.status == ToolRun.Status.SUCCEEDED, run.error
    (request,) = endpoint.requests
    assert request.url.host == HOSTS[provider_id]
    if provider_id == "bedrock-eu":
        assert request.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/")
    region = PROVIDERS[provider_id]["region"]
    assert (run.provenance["provider"], run.provenance["region"]) == (provider_id, region)
    ai = run.provenance["ai"]
    assert ai["model"] == "claude-sonnet-4-6" and ai["request_ids"] == ["req_1"]
    assert (ai["input_tokens"], ai["output_tokens"]) == (1000, 200) and ai["cost_usd"] > 0
    output = run.outputs.get().version
    assert (output.provenance["provider"], output.provenance["region"]) == (provider_id, region)
    assert output.provenance["ai"]["request_ids"] == ["req_1"]

    started = AuditEvent.objects.get(action="toolrun.start", target_type="toolruns.toolrun", target_id=str(run.pk))
    assert started.details["params"]["ai_provider"] == provider_id
    ended = AuditEvent.objects.get(action="toolrun.succeeded", target_type="toolruns.toolrun", target_id=str(run.pk))
    assert ended.details["ai"]["provider"] == provider_id and ended.details["ai"]["region"] == region
    assert ended.details["ai"]["request_ids"] == ["req_1"]


def test_a_provider_the_studio_has_not_allowed_is_refused_before_any_request(world_tx, clip_version, providers_env, endpoint):
    world = world_tx
    studio_allows(world, "bedrock-eu")
    version = clip_version(world.a.project, world.a.users["artist"])
    with pytest.raises(ProviderNotAllowed, match="Anthropic API is not a model provider .* allows; nothing was sent"):
        start(world, version, external_ai=True, ai_provider="anthropic")
    assert not ToolRun.objects.exists()
    assert endpoint.requests == []
    assert AuditEvent.objects.filter(action="access.denied", actor=world.a.users["artist"]).exists()


def test_a_provider_withdrawn_while_the_run_waited_stops_it_before_any_request(world_tx, clip_version, providers_env, endpoint):
    world = world_tx
    studio_allows(world, "vertex-eu", "anthropic")
    version = clip_version(world.a.project, world.a.users["artist"])
    run = start(world, version, external_ai=True, ai_provider="vertex-eu")
    provider_services.studio_provider_set_allowed(
        actor=world.a.users["studio_admin"], studio=world.a.studio, provider="vertex-eu", allowed=False
    )
    run = services.toolrun_execute(run.pk)
    assert run.status == ToolRun.Status.FAILED
    assert "“vertex-eu” is no longer allowed" in run.error and "before anything was sent" in run.error
    assert endpoint.requests == []


def test_withdrawing_the_only_provider_sends_a_queued_run_that_named_none_to_the_local_path(
    world_tx, clip_version, providers_env, endpoint
):
    """A queued run whose params name no provider gets whatever the studio allows when it runs: with the
    only provider withdrawn meanwhile, the seam finds none allowed and the tool stays local."""
    world = world_tx
    studio_allows(world, "anthropic")
    version = clip_version(world.a.project, world.a.users["artist"])
    run = start(world, version, external_ai=True)
    ToolRun.objects.filter(pk=run.pk).update(params={**run.params, "ai_provider": None})
    provider_services.studio_provider_set_allowed(
        actor=world.a.users["studio_admin"], studio=world.a.studio, provider="anthropic", allowed=False
    )
    run = services.toolrun_execute(run.pk)
    assert run.status == ToolRun.Status.SUCCEEDED
    assert run.report["local"] is True and "no model provider is allowed" in run.report["reason"]
    assert endpoint.requests == []


def test_nothing_allowed_keeps_the_local_path(world_tx, clip_version, providers_env, endpoint):
    world = world_tx
    studio_allows(world)  # external AI on, but no provider allowed
    version = clip_version(world.a.project, world.a.users["artist"])
    run = start(world, version, external_ai=True)
    assert run.params["ai_provider"] is None
    run = services.toolrun_execute(run.pk)
    assert run.status == ToolRun.Status.SUCCEEDED and run.report["local"] is True
    assert endpoint.requests == []
    assert run.provenance["provider"] is None and run.provenance["ai"] is None


def test_the_studios_default_for_the_tool_is_used_with_its_model(world_tx, clip_version, providers_env, endpoint):
    world = world_tx
    studio_allows(world, "anthropic", "bedrock-eu")
    provider_services.studio_tool_default_set(
        actor=world.a.users["studio_admin"], studio=world.a.studio, tool="ask_model", provider="bedrock-eu",
        model="claude-sonnet-4-6",
    )  # fmt: skip
    version = clip_version(world.a.project, world.a.users["artist"])
    run = start(world, version, external_ai=True)
    assert (run.params["ai_provider"], run.params["model"]) == ("bedrock-eu", "claude-sonnet-4-6")
    run = services.toolrun_execute(run.pk)
    assert run.status == ToolRun.Status.SUCCEEDED
    (request,) = endpoint.requests
    assert request.url.host == HOSTS["bedrock-eu"]
    assert json.loads(request.content)["messages"][0]["content"] == "testsrc.mp4"


def test_the_run_page_shows_where_the_material_went(world_tx, clip_version, providers_env, endpoint, client_for):
    world = world_tx
    studio_allows(world, "bedrock-eu")
    version = clip_version(world.a.project, world.a.users["artist"])
    run = services.toolrun_execute(start(world, version, external_ai=True, model="claude-sonnet-4-6").pk)
    page = client_for(world.a.users["artist"]).get(f"/s/{world.a.studio.slug}/p/{world.a.project.code}/runs/{run.pk}/")
    shown = page.content.decode()
    assert "claude-sonnet-4-6 (bedrock-eu, eu-central-1)" in shown
    assert "Claude on Bedrock (Frankfurt) · eu-central-1" in shown and "req_1" in shown


def test_the_api_and_the_start_page_refuse_a_provider_not_allowed_with_the_reason(
    world_tx, clip_version, providers_env, endpoint, api_for, client_for
):
    world = world_tx
    studio_allows(world, "vertex-eu")
    version = clip_version(world.a.project, world.a.users["artist"])
    answer = api_for(world.a.users["artist"]).post(
        f"/api/v1/projects/{world.a.project.pk}/toolruns/",
        {"tool": "ask_model", "params": {"external_ai": True, "ai_provider": "bedrock-eu"}, "input_version_ids": [version.pk]},
        format="json",
    )
    assert answer.status_code == 403, answer.json()
    assert "Claude on Bedrock (Frankfurt) is not a model provider" in json.dumps(answer.json())
    page = client_for(world.a.users["artist"]).post(
        f"/s/{world.a.studio.slug}/p/{world.a.project.code}/tools/ask_model/start/",
        {"input-clip": str(version.pk), "param-external_ai": "on", "param-ai_provider": "bedrock-eu"},
        follow=True,
    )
    assert "Claude on Bedrock (Frankfurt) is not a model provider" in page.content.decode()
    assert not ToolRun.objects.exists() and endpoint.requests == []
