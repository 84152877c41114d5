"""A studio admin's choices among the configured providers, through the services, the API and the pages:
who may make them, what is refused (with a message), and the audit rows."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from portal.audit.models import AuditEvent
from portal.providers import services
from portal.providers.models import AllowedProvider, ToolProviderDefault

pytestmark = pytest.mark.django_db


def test_allowing_records_the_promises_the_admin_was_shown(world, providers_env):
    admin = world.a.users["studio_admin"]
    assert services.studio_provider_set_allowed(actor=admin, studio=world.a.studio, provider="bedrock-eu", allowed=True)
    assert not services.studio_provider_set_allowed(actor=admin, studio=world.a.studio, provider="bedrock-eu", allowed=True)
    event = AuditEvent.objects.get(action="ai_provider.allow")
    assert event.details["provider"] == "bedrock-eu" and event.details["region"] == "eu-central-1"
    assert set(event.details["promises"]) == {"retention", "training", "region", "text", "link"}
    assert list(AllowedProvider.objects.filter(studio=world.a.studio).values_list("provider", flat=True)) == ["bedrock-eu"]


def test_an_unknown_provider_is_refused_with_a_message(world, providers_env):
    with pytest.raises(ValidationError, match="There is no model provider “openai” on this portal"):
        services.studio_provider_set_allowed(
            actor=world.a.users["studio_admin"], studio=world.a.studio, provider="openai", allowed=True
        )
    assert not AllowedProvider.objects.exists()


@pytest.mark.parametrize("role", ["member", "producer", "artist"])
def test_only_a_studio_admin_chooses(world, providers_env, role):
    with pytest.raises(PermissionDenied):
        services.studio_provider_set_allowed(actor=world.a.users[role], studio=world.a.studio, provider="anthropic", allowed=True)
    assert not AllowedProvider.objects.exists()


def test_a_default_needs_an_allowed_provider_and_a_model_it_offers(world, providers_env, settings):
    settings.TOOLRUNS_EXTRA_TOOL_PACKAGES = []
    admin, studio = world.a.users["studio_admin"], world.a.studio
    with pytest.raises(ValidationError, match="Allow Claude on Vertex AI .* before making it a default"):
        services.studio_tool_default_set(actor=admin, studio=studio, tool="recap", provider="vertex-eu")
    services.studio_provider_set_allowed(actor=admin, studio=studio, provider="vertex-eu", allowed=True)
    with pytest.raises(ValidationError, match="does not offer claude-opus-4-6"):
        services.studio_tool_default_set(actor=admin, studio=studio, tool="recap", provider="vertex-eu", model="claude-opus-4-6")
    with pytest.raises(ValidationError, match="not a tool that can ask a model provider"):
        services.studio_tool_default_set(actor=admin, studio=studio, tool="contactsheet", provider="vertex-eu")
    services.studio_tool_default_set(
        actor=admin, studio=studio, tool="continuity", provider="vertex-eu", model="claude-sonnet-4-6"
    )
    assert ToolProviderDefault.objects.get(studio=studio).provider == "vertex-eu"
    # withdrawing the provider clears the defaults that used it
    services.studio_provider_set_allowed(actor=admin, studio=studio, provider="vertex-eu", allowed=False)
    assert not ToolProviderDefault.objects.exists()
    assert AuditEvent.objects.get(action="ai_provider.disallow").details["defaults_cleared"] == ["continuity"]


def test_api_lists_providers_with_promises_and_allows_one(world, providers_env, api_for):
    studio = world.a.studio
    admin_api = api_for(world.a.users["studio_admin"])
    listed = admin_api.get(f"/api/v1/studios/{studio.pk}/ai-providers/").json()
    assert [p["id"] for p in listed] == ["anthropic", "bedrock-eu", "vertex-eu"]
    anthropic = listed[0]
    assert anthropic["promises"]["retention"] == "30 days" and anthropic["promises"]["link"] == "https://example.com/anthropic"
    assert not anthropic["allowed"] and "api_key" not in str(listed) and "sk-ant" not in str(listed)

    answer = admin_api.post(f"/api/v1/studios/{studio.pk}/ai-providers/vertex-eu/allow/", {"allowed": True}, format="json")
    assert answer.status_code == 200 and answer.json()["allowed"] is True and answer.json()["region"] == "europe-west1"
    answer = admin_api.post(
        f"/api/v1/studios/{studio.pk}/ai-tool-defaults/", {"tool": "recap", "provider": "anthropic"}, format="json"
    )
    assert answer.status_code == 400 and "Allow Anthropic API" in str(answer.json())
    answer = admin_api.post(
        f"/api/v1/studios/{studio.pk}/ai-tool-defaults/", {"tool": "recap", "provider": "vertex-eu"}, format="json"
    )
    assert answer.status_code == 201
    assert admin_api.get(f"/api/v1/studios/{studio.pk}/ai-tool-defaults/").json() == [
        {"tool": "recap", "provider": "vertex-eu", "model": ""}
    ]

    # a member reads, cannot change; another studio's admin does not even see it
    member_api = api_for(world.a.users["member"])
    assert member_api.get(f"/api/v1/studios/{studio.pk}/ai-providers/").status_code == 200
    assert member_api.post(f"/api/v1/studios/{studio.pk}/ai-providers/anthropic/allow/", {"allowed": True}).status_code == 403
    outsider = api_for(world.b.users["studio_admin"])
    assert outsider.get(f"/api/v1/studios/{studio.pk}/ai-providers/").status_code == 404
    assert outsider.post(f"/api/v1/studios/{studio.pk}/ai-providers/anthropic/allow/", {"allowed": True}).status_code == 404
    assert list(AllowedProvider.objects.values_list("provider", flat=True)) == ["vertex-eu"]


def test_the_page_allows_and_refuses_with_messages(world, providers_env, client_for):
    studio = world.a.studio
    page = client_for(world.a.users["studio_admin"])
    shown = page.get(f"/s/{studio.slug}/").content.decode()
    assert 'id="ai-providers"' in shown and "Claude on Bedrock (Frankfurt)" in shown and "30 days" in shown
    answer = page.post(f"/s/{studio.slug}/ai-providers/bedrock-eu/allow/", {"allowed": "1"}, follow=True)
    assert "Claude on Bedrock (Frankfurt) is allowed for this studio." in answer.content.decode()
    answer = page.post(f"/s/{studio.slug}/ai-providers/openai/allow/", {"allowed": "1"}, follow=True)
    assert "There is no model provider “openai” on this portal." in answer.content.decode()
    # a member does not see the section and cannot post to it
    member = client_for(world.a.users["member"])
    assert 'id="ai-providers"' not in member.get(f"/s/{studio.slug}/").content.decode()
    assert member.post(f"/s/{studio.slug}/ai-providers/anthropic/allow/", {"allowed": "1"}).status_code in (403, 404)


def test_a_broken_configuration_is_shown_not_a_crash(world, monkeypatch, client_for):
    monkeypatch.setenv("AI_PROVIDERS", "{broken")
    monkeypatch.delenv("AI_PROVIDERS_FILE", raising=False)
    shown = client_for(world.a.users["studio_admin"]).get(f"/s/{world.a.studio.slug}/").content.decode()
    assert "configuration cannot be read" in shown and "not valid JSON" in shown


def test_the_start_form_offers_only_the_allowed_providers(world, providers_env, client_for):
    admin, studio = world.a.users["studio_admin"], world.a.studio
    services.studio_provider_set_allowed(actor=admin, studio=studio, provider="vertex-eu", allowed=True)
    page = client_for(world.a.users["artist"])
    shown = page.get(f"/s/{studio.slug}/p/{world.a.project.code}/tools/continuity/start/").content.decode()
    start = shown.index('name="param-ai_provider"') if 'name="param-ai_provider"' in shown else shown.index("ai_provider")
    select = shown[start : shown.index("</select>", start)]
    assert "Claude on Vertex AI (Belgium)" in select and "The studio&#x27;s default" in select
    assert "Anthropic API" not in select and "Bedrock" not in select
