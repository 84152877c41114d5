"""The access policy, end to end, generated from the table in portal/access/policy.py.

Every page route and every API endpoint of the resolver is either in CATALOG (with the HTTP
methods to try, how to build its URL for a studio, and a payload) or in EXEMPT with a reason;
a new route without an entry fails `test_every_route_has_a_policy_entry`.

For each catalogued route one test makes the route's objects once, on the session's shared world,
and walks every method (and, for a route in a project, every method again on the archived project)
and every role, in the studio that owns the object (studio A, "same") and in the other studio
("other"), plus platform staff and an anonymous caller. The expected answer comes from `allowed_by_table()`:

- anonymous: pages redirect to the sign-in page, the API answers 401 or 403;
- platform staff and anyone from the other studio: 404, always;
- same studio: allowed by the table -> not 401/403/404 and not a 5xx; refused -> 404 when the
  table does not let the role even see the object (project.view / studio.view), else 403.
Every refusal of a signed-in caller must leave an `access.denied` row in studio A's audit chain.

Each case runs in a savepoint that is rolled back, so writes do not leak into the next case; a
route's failing cases are reported together, one line each, in one assertion message."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from portal.access.api import ScopedAPIMixin
from portal.access.policy import Action, Scope, allowed_by_table
from portal.access.views import StudioScopedView
from portal.accounts.models import ApiToken
from portal.accounts.services import api_token_create
from portal.audit.models import AuditEvent
from portal.audit.services import chain_for
from portal.characters.services import character_create, reference_add
from portal.footage.models import Asset, AssetVersion
from portal.projects.models import Project, ProjectMembership
from portal.projects.services import project_archive
from portal.review.services import note_create
from portal.studios.models import Invitation, Studio, StudioMembership
from portal.studios.services import invitation_send
from portal.toolruns.models import ToolRunOutput
from portal.webhooks.services import endpoint_create, endpoint_send_test
from tests.factories import ROLE_SPECS, Side, World
from tests.footage.helpers import make_ready_version
from tests.toolruns.helpers import start_run

# --- what the URLs point at -------------------------------------------------------------------


@dataclass
class Targets:
    """The objects of one studio that routes with ids in their URL act on."""

    side: Side
    studio_membership: StudioMembership  # the plain "member": role change / removal target
    project_membership: ProjectMembership  # the viewer's: role change / removal target
    candidate: Any  # a studio member who is not on the project: "add to project" target
    invitation: Invitation  # a pending invitation: resend / revoke target
    version: AssetVersion  # a ready version with a proxy, poster and original: media and download target
    run: Any = None  # toolruns: a queued run of the demo tool over `version`: run page and cancel target
    note: Any = None  # review: a note on `version`: resolve / reopen / accept / dismiss target
    character: Any = None  # characters: a character with one reference still: edit / delete target
    reference: Any = None  # characters: that reference still
    still: Any = None  # characters: a ready still image, for "add a reference"
    webhook: Any = None  # webhooks: an endpoint of the project (on a closed loopback port: nothing is sent)
    delivery: Any = None  # webhooks: a delivery of its test event


def _store_small_jpeg(key: str) -> None:
    import io

    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from PIL import Image

    data = io.BytesIO()
    Image.new("RGB", (64, 36), (90, 120, 150)).save(data, format="JPEG")
    default_storage.delete(key)
    default_storage.save(key, ContentFile(data.getvalue()))


def targets_for(side: Side) -> Targets:
    admin = side.users["studio_admin"]
    invitation, _raw = invitation_send(actor=admin, studio=side.studio, email=f"pending@{side.studio.slug}.test")
    targets = Targets(
        side=side,
        studio_membership=StudioMembership.objects.get(studio=side.studio, user=side.users["member"]),
        project_membership=ProjectMembership.objects.get(project=side.project, user=side.users["viewer"]),
        candidate=side.users["member"],
        invitation=invitation,
        version=make_ready_version(side.project, uploader=side.users["artist"]),
    )
    targets.run = start_run(side.project, actor=side.users["artist"], version=targets.version)  # toolruns
    sheet = make_ready_version(side.project, uploader=side.users["artist"], kind=Asset.Kind.GENERATED, name="sheet.jpg")
    _store_small_jpeg(sheet.file_key)  # an unapproved picture is served labelled: it must be one
    ToolRunOutput.objects.create(run=targets.run, name="sheet", kind="image", media_type="image/jpeg", version=sheet)
    targets.note = note_create(actor=side.users["artist"], version=targets.version, frame_start=0, text="Too dark here")  # review
    targets.still = make_ready_version(side.project, uploader=side.users["artist"], kind=Asset.Kind.REFERENCE, name="anna.jpg")
    targets.still.media_info = {"kind": "still", "video": {"width": 64, "height": 36}}
    targets.still.save(update_fields=["media_info"])
    targets.character = character_create(actor=side.users["artist"], project=side.project, name="Anna")  # characters
    targets.reference = reference_add(actor=side.users["artist"], character=targets.character, version_id=targets.still.pk)
    targets.webhook, _secret = endpoint_create(
        actor=admin, project=side.project, url="http://127.0.0.1:9/matrix-hook", events=["note.added"]
    )  # webhooks
    targets.delivery = endpoint_send_test(actor=admin, endpoint=targets.webhook)
    return targets


# --- the catalog ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    # The action this method requires, as reviewed. Where the view declares one (`policy_action(s)` on
    # pages, `policy_actions(_by_view_action)` on scoped viewsets) the declaration is read and must say
    # the same, so loosening a view's declaration fails here instead of silently moving the matrix along.
    # Views that call require() themselves (StudioViewSet, ProjectViewSet) have only this.
    action: Action
    payload: Callable[[Targets], dict] | None = None


@dataclass(frozen=True)
class Entry:
    scope: Scope  # what the URL is about: studio A, or studio A's project
    kwargs: Callable[[Targets], dict]
    methods: dict[str, Call] = field(default_factory=dict)


def _studio(t: Targets) -> dict:
    return {"studio": t.side.studio.slug}


def _project(t: Targets) -> dict:
    return {"studio": t.side.studio.slug, "project": t.side.project.code}


def _invitation(t: Targets) -> dict:
    return {**_studio(t), "invitation_id": t.invitation.pk}


def _studio_member(t: Targets) -> dict:
    return {**_studio(t), "membership_id": t.studio_membership.pk}


def _project_member(t: Targets) -> dict:
    return {**_project(t), "membership_id": t.project_membership.pk}


def _asset(t: Targets) -> dict:
    return {**_project(t), "asset_id": t.version.asset_id}


def _version(t: Targets) -> dict:
    return {**_project(t), "version_id": t.version.pk}


def _api_version(t: Targets) -> dict:
    return {"project_pk": t.side.project.pk, "version_pk": t.version.pk}


def _api_note(t: Targets) -> dict:
    return {**_api_version(t), "pk": t.note.pk}


def _api_studio(t: Targets) -> dict:
    return {"studio_pk": t.side.studio.pk}


def _api_project(t: Targets) -> dict:
    return {"project_pk": t.side.project.pk}


def _api_project_pk(t: Targets) -> dict:
    return {"pk": t.side.project.pk}


def _webhook(t: Targets) -> dict:
    return {**_project(t), "endpoint_id": t.webhook.pk}


def _api_webhook(t: Targets) -> dict:
    return {**_api_project(t), "pk": t.webhook.pk}


def _api_delivery(t: Targets) -> dict:
    return {**_api_project(t), "webhook_pk": t.webhook.pk, "pk": t.delivery.pk}


def _new_invitation(t: Targets) -> dict:
    return {"email": "new.person@example.test", "studio_role": "member"}


S, P, A = Scope.STUDIO, Scope.PROJECT, Action

CATALOG: dict[str, Entry] = {
    # pages: studio
    "studios:dashboard": Entry(S, _studio, {"GET": Call(A.STUDIO_VIEW)}),
    "studios:settings": Entry(
        S, _studio, {"POST": Call(A.STUDIO_MANAGE, lambda t: {"retention_days": 120, "allow_external_ai": "on"})}
    ),
    "studios:invitation_create": Entry(S, _studio, {"POST": Call(A.STUDIO_MEMBERS_MANAGE, _new_invitation)}),
    "studios:invitation_resend": Entry(S, _invitation, {"POST": Call(A.STUDIO_MEMBERS_MANAGE)}),
    "studios:invitation_revoke": Entry(S, _invitation, {"POST": Call(A.STUDIO_MEMBERS_MANAGE)}),
    "studios:member_role": Entry(S, _studio_member, {"POST": Call(A.STUDIO_MEMBERS_MANAGE, lambda t: {"role": "studio_admin"})}),
    "studios:member_remove": Entry(S, _studio_member, {"POST": Call(A.STUDIO_MEMBERS_MANAGE)}),
    "studios:project_create": Entry(
        S,
        _studio,
        {
            "GET": Call(A.PROJECT_CREATE),
            "POST": Call(A.PROJECT_CREATE, lambda t: {"code": "NEW_1", "name": "New project", "frame_rate": "24/1"}),
        },
    ),
    "studios:audit": Entry(S, _studio, {"GET": Call(A.AUDIT_VIEW)}),
    # pages: the studio's model providers (no provider is configured here: an allowed call ends in a message)
    "providers:allow": Entry(
        S, lambda t: {**_studio(t), "provider": "anthropic"}, {"POST": Call(A.STUDIO_MANAGE, lambda t: {"allowed": "1"})}
    ),
    "providers:tool_default": Entry(S, _studio, {"POST": Call(A.STUDIO_MANAGE, lambda t: {"tool": "recap", "provider": ""})}),
    "studios:audit_export": Entry(S, _studio, {"GET": Call(A.AUDIT_VIEW)}),
    # pages: project
    "projects:detail": Entry(P, _project, {"GET": Call(A.PROJECT_VIEW)}),
    "projects:settings": Entry(
        P, _project, {"POST": Call(A.PROJECT_MANAGE, lambda t: {"name": "Renamed", "frame_rate": "25/1"})}
    ),
    "projects:member_add": Entry(
        P, _project, {"POST": Call(A.MEMBERS_MANAGE, lambda t: {"user": t.candidate.pk, "role": "viewer"})}
    ),
    "projects:member_role": Entry(P, _project_member, {"POST": Call(A.MEMBERS_MANAGE, lambda t: {"role": "artist"})}),
    "projects:member_remove": Entry(P, _project_member, {"POST": Call(A.MEMBERS_MANAGE)}),
    # pages: footage
    "footage:asset_list": Entry(P, _project, {"GET": Call(A.FOOTAGE_VIEW)}),
    "footage:asset_list_latest": Entry(P, _project, {"GET": Call(A.FOOTAGE_VIEW)}),
    "footage:asset": Entry(P, _asset, {"GET": Call(A.FOOTAGE_VIEW)}),
    "footage:asset_status": Entry(P, _asset, {"GET": Call(A.FOOTAGE_VIEW)}),
    "footage:media": Entry(P, lambda t: {**_version(t), "what": "proxy"}, {"GET": Call(A.FOOTAGE_VIEW)}),
    "footage:download": Entry(P, _version, {"GET": Call(A.ASSET_DOWNLOAD)}),
    # pages: review
    "review:review": Entry(P, _version, {"GET": Call(A.FOOTAGE_VIEW)}),
    "review:notes_export": Entry(P, lambda t: {**_version(t), "fmt": "csv"}, {"GET": Call(A.FOOTAGE_VIEW)}),
    # allowed callers get 409 on footage (no sidecar manifest): the policy answered first
    "review:credentials_sidecar": Entry(P, _version, {"GET": Call(A.ASSET_DOWNLOAD)}),
    # API: studio
    "api:studio-detail": Entry(
        S,
        lambda t: {"pk": t.side.studio.pk},
        {"GET": Call(A.STUDIO_VIEW), "PATCH": Call(A.STUDIO_MANAGE, lambda t: {"retention_days": 30})},
    ),
    "api:studio-member-list": Entry(S, _api_studio, {"GET": Call(A.STUDIO_VIEW)}),
    "api:studio-member-detail": Entry(
        S,
        lambda t: {**_api_studio(t), "pk": t.studio_membership.pk},
        {
            "PATCH": Call(A.STUDIO_MEMBERS_MANAGE, lambda t: {"role": "studio_admin"}),
            "DELETE": Call(A.STUDIO_MEMBERS_MANAGE),
        },
    ),
    "api:studio-invitation-list": Entry(
        S, _api_studio, {"GET": Call(A.STUDIO_MEMBERS_MANAGE), "POST": Call(A.STUDIO_MEMBERS_MANAGE, _new_invitation)}
    ),
    "api:studio-invitation-resend": Entry(
        S, lambda t: {**_api_studio(t), "pk": t.invitation.pk}, {"POST": Call(A.STUDIO_MEMBERS_MANAGE)}
    ),
    "api:studio-invitation-revoke": Entry(
        S, lambda t: {**_api_studio(t), "pk": t.invitation.pk}, {"POST": Call(A.STUDIO_MEMBERS_MANAGE)}
    ),
    "api:studio-audit-event-list": Entry(S, _api_studio, {"GET": Call(A.AUDIT_VIEW)}),
    "api:studio-ai-provider-list": Entry(S, _api_studio, {"GET": Call(A.STUDIO_VIEW)}),
    "api:studio-ai-provider-allow": Entry(
        S, lambda t: {**_api_studio(t), "pk": "anthropic"}, {"POST": Call(A.STUDIO_MANAGE, lambda t: {"allowed": True})}
    ),
    "api:studio-ai-tool-default-list": Entry(
        S,
        _api_studio,
        {"GET": Call(A.STUDIO_VIEW), "POST": Call(A.STUDIO_MANAGE, lambda t: {"tool": "recap", "provider": ""})},
    ),
    # GET (the caller's own projects) is in EXEMPT_METHODS; POST creates a project in the studio named in the body.
    "api:project-list": Entry(
        S,
        lambda t: {},
        {"POST": Call(A.PROJECT_CREATE, lambda t: {"studio": t.side.studio.pk, "code": "NEW_1", "name": "New"})},
    ),
    # API: project
    "api:project-detail": Entry(
        P, _api_project_pk, {"GET": Call(A.PROJECT_VIEW), "PATCH": Call(A.PROJECT_MANAGE, lambda t: {"name": "Renamed"})}
    ),
    # archive of an archived project / unarchive of an active one: 400 once the policy let the call through
    "api:project-archive": Entry(P, _api_project_pk, {"POST": Call(A.PROJECT_MANAGE)}),
    "api:project-unarchive": Entry(P, _api_project_pk, {"POST": Call(A.PROJECT_MANAGE)}),
    "api:project-member-list": Entry(
        P,
        _api_project,
        {"GET": Call(A.PROJECT_VIEW), "POST": Call(A.MEMBERS_MANAGE, lambda t: {"user_id": t.candidate.pk, "role": "viewer"})},
    ),
    "api:project-member-detail": Entry(
        P,
        lambda t: {**_api_project(t), "pk": t.project_membership.pk},
        {"PATCH": Call(A.MEMBERS_MANAGE, lambda t: {"role": "artist"}), "DELETE": Call(A.MEMBERS_MANAGE)},
    ),
    # API: footage
    "api:project-asset-list": Entry(P, _api_project, {"GET": Call(A.FOOTAGE_VIEW)}),
    "api:project-asset-detail": Entry(P, lambda t: {**_api_project(t), "pk": t.version.asset_id}, {"GET": Call(A.FOOTAGE_VIEW)}),
    "api:project-version-list": Entry(P, _api_project, {"GET": Call(A.FOOTAGE_VIEW)}),
    "api:project-version-detail": Entry(P, lambda t: {**_api_project(t), "pk": t.version.pk}, {"GET": Call(A.FOOTAGE_VIEW)}),
    # API: review (accept/dismiss of a person's note: 400 once the policy let the call through)
    "api:version-note-list": Entry(
        P,
        _api_version,
        {"GET": Call(A.FOOTAGE_VIEW), "POST": Call(A.REVIEW_COMMENT, lambda t: {"frame_start": 0, "text": "Matrix note"})},
    ),
    "api:version-note-detail": Entry(P, _api_note, {"GET": Call(A.FOOTAGE_VIEW)}),
    "api:version-note-resolve": Entry(P, _api_note, {"POST": Call(A.REVIEW_COMMENT)}),
    "api:version-note-reopen": Entry(P, _api_note, {"POST": Call(A.REVIEW_COMMENT)}),
    "api:version-note-accept": Entry(P, _api_note, {"POST": Call(A.REVIEW_COMMENT)}),
    "api:version-note-dismiss": Entry(P, _api_note, {"POST": Call(A.REVIEW_COMMENT)}),
    # footage is not generated media: allowed producers get 400 ("only generated plates go through approval")
    "api:version-decision-list": Entry(
        P, _api_version, {"GET": Call(A.FOOTAGE_VIEW), "POST": Call(A.PLATE_APPROVE, lambda t: {"verdict": "approved"})}
    ),
    # allowed callers get 412 (no Tus-Resumable header): the policy answered first, the protocol after
    "api:tus-create": Entry(P, _api_project, {"POST": Call(A.FOOTAGE_UPLOAD)}),
    # toolruns: pages
    "toolruns:tools": Entry(P, _project, {"GET": Call(A.FOOTAGE_VIEW)}),
    "toolruns:run_list": Entry(P, _project, {"GET": Call(A.FOOTAGE_VIEW)}),
    "toolruns:start": Entry(
        P,
        lambda t: {**_project(t), "tool": "contactsheet"},
        {"GET": Call(A.TOOLRUN_START), "POST": Call(A.TOOLRUN_START, lambda t: {"input-clip": str(t.version.pk)})},
    ),
    "toolruns:run": Entry(P, lambda t: {**_project(t), "run_id": t.run.pk}, {"GET": Call(A.FOOTAGE_VIEW)}),
    "toolruns:cancel": Entry(P, lambda t: {**_project(t), "run_id": t.run.pk}, {"POST": Call(A.TOOLRUN_CANCEL)}),
    # the run's output set: GET goes back to the run page; allowed producers get 409 (the run is only queued)
    "toolruns:output_set": Entry(
        P,
        lambda t: {**_project(t), "run_id": t.run.pk},
        {"GET": Call(A.FOOTAGE_VIEW), "POST": Call(A.PLATE_APPROVE, lambda t: {"verdict": "approved"})},
    ),
    "toolruns:output_image": Entry(
        P, lambda t: {**_project(t), "run_id": t.run.pk, "name": "sheet"}, {"GET": Call(A.FOOTAGE_VIEW)}
    ),
    # toolruns: API
    "api:project-toolrun-list": Entry(
        P,
        _api_project,
        {
            "GET": Call(A.FOOTAGE_VIEW),
            "POST": Call(A.TOOLRUN_START, lambda t: {"tool": "contactsheet", "input_version_ids": [t.version.pk]}),
        },
    ),
    "api:project-toolrun-detail": Entry(P, lambda t: {**_api_project(t), "pk": t.run.pk}, {"GET": Call(A.FOOTAGE_VIEW)}),
    "api:project-toolrun-cancel": Entry(P, lambda t: {**_api_project(t), "pk": t.run.pk}, {"POST": Call(A.TOOLRUN_CANCEL)}),
    # Allowed callers get 400 here (the run is not a finished recap): past the policy, refused by the service.
    "api:project-toolrun-rerender": Entry(
        P,
        lambda t: {**_api_project(t), "pk": t.run.pk},
        {"POST": Call(A.TOOLRUN_START, lambda t: {"moments": [{"episode": 1, "start": 0, "end": 3}]})},
    ),
    # Allowed callers get 400 here too (not a recap): the sign-off needs a producer, reading needs a viewer.
    "api:project-toolrun-signoff": Entry(
        P,
        lambda t: {**_api_project(t), "pk": t.run.pk},
        {"POST": Call(A.PLATE_APPROVE, lambda t: {"sentence": "s1", "text_sha256": "0" * 64})},
    ),
    # Allowed producers get 409 here (the run is only queued): past the policy, refused by the service.
    "api:toolrun-set-list": Entry(
        P,
        lambda t: {**_api_project(t), "run_pk": t.run.pk},
        {"GET": Call(A.FOOTAGE_VIEW), "POST": Call(A.PLATE_APPROVE, lambda t: {"verdict": "approved"})},
    ),
    "api:project-toolrun-narration": Entry(P, lambda t: {**_api_project(t), "pk": t.run.pk}, {"GET": Call(A.FOOTAGE_VIEW)}),
    "api:project-tool-list": Entry(P, _api_project, {"GET": Call(A.FOOTAGE_VIEW)}),
    "api:project-tool-detail": Entry(P, lambda t: {**_api_project(t), "name": "contactsheet"}, {"GET": Call(A.FOOTAGE_VIEW)}),
    # characters: pages
    "characters:list": Entry(P, _project, {"GET": Call(A.FOOTAGE_VIEW)}),
    "characters:add": Entry(P, _project, {"POST": Call(A.CHARACTERS_EDIT, lambda t: {"name": "Matrix character"})}),
    "characters:edit": Entry(
        P,
        lambda t: {**_project(t), "character_id": t.character.pk},
        {"POST": Call(A.CHARACTERS_EDIT, lambda t: {"name": "Anna K."})},
    ),
    "characters:delete": Entry(P, lambda t: {**_project(t), "character_id": t.character.pk}, {"POST": Call(A.CHARACTERS_EDIT)}),
    "characters:reference_add": Entry(
        P,
        lambda t: {**_project(t), "character_id": t.character.pk},
        {"POST": Call(A.CHARACTERS_EDIT, lambda t: {"version": str(t.still.pk), "scene": "9"})},
    ),
    "characters:reference_edit": Entry(
        P,
        lambda t: {**_project(t), "character_id": t.character.pk, "reference_id": t.reference.pk},
        {"POST": Call(A.CHARACTERS_EDIT, lambda t: {"costume": "coat", "scene": "2"})},
    ),
    "characters:reference_delete": Entry(
        P,
        lambda t: {**_project(t), "character_id": t.character.pk, "reference_id": t.reference.pk},
        {"POST": Call(A.CHARACTERS_EDIT)},
    ),
    # characters: API
    "api:project-character-list": Entry(
        P, _api_project, {"GET": Call(A.FOOTAGE_VIEW), "POST": Call(A.CHARACTERS_EDIT, lambda t: {"name": "Matrix character"})}
    ),
    "api:project-character-detail": Entry(
        P,
        lambda t: {**_api_project(t), "pk": t.character.pk},
        {
            "GET": Call(A.FOOTAGE_VIEW),
            "PATCH": Call(A.CHARACTERS_EDIT, lambda t: {"notes": "Lead"}),
            "DELETE": Call(A.CHARACTERS_EDIT),
        },
    ),
    "api:character-reference-list": Entry(
        P,
        lambda t: {**_api_project(t), "character_pk": t.character.pk},
        {"GET": Call(A.FOOTAGE_VIEW), "POST": Call(A.CHARACTERS_EDIT, lambda t: {"version": t.still.pk, "scene": "9"})},
    ),
    # webhooks: pages (studio admins only; redeliver of a delivery that did not fail: a message, once allowed)
    "webhooks:create": Entry(
        P,
        _project,
        {"POST": Call(A.WEBHOOKS_MANAGE, lambda t: {"url": "http://127.0.0.1:9/another", "events": ["asset.ready"]})},
    ),
    "webhooks:update": Entry(P, _webhook, {"POST": Call(A.WEBHOOKS_MANAGE, lambda t: {"is_active": "0"})}),
    "webhooks:rotate": Entry(P, _webhook, {"POST": Call(A.WEBHOOKS_MANAGE)}),
    "webhooks:delete": Entry(P, _webhook, {"POST": Call(A.WEBHOOKS_MANAGE)}),
    "webhooks:test": Entry(P, _webhook, {"POST": Call(A.WEBHOOKS_MANAGE)}),
    "webhooks:deliveries": Entry(P, _webhook, {"GET": Call(A.WEBHOOKS_MANAGE)}),
    "webhooks:redeliver": Entry(P, lambda t: {**_webhook(t), "delivery_id": t.delivery.pk}, {"POST": Call(A.WEBHOOKS_MANAGE)}),
    # webhooks: API
    "api:project-webhook-list": Entry(
        P,
        _api_project,
        {
            "GET": Call(A.WEBHOOKS_MANAGE),
            "POST": Call(A.WEBHOOKS_MANAGE, lambda t: {"url": "http://127.0.0.1:9/another", "events": ["asset.ready"]}),
        },
    ),
    "api:project-webhook-detail": Entry(
        P,
        _api_webhook,
        {
            "GET": Call(A.WEBHOOKS_MANAGE),
            "PATCH": Call(A.WEBHOOKS_MANAGE, lambda t: {"description": "Pipeline"}),
            "DELETE": Call(A.WEBHOOKS_MANAGE),
        },
    ),
    "api:project-webhook-rotate-secret": Entry(P, _api_webhook, {"POST": Call(A.WEBHOOKS_MANAGE, lambda t: {})}),
    "api:project-webhook-test": Entry(P, _api_webhook, {"POST": Call(A.WEBHOOKS_MANAGE)}),
    "api:webhook-delivery-list": Entry(
        P, lambda t: {"project_pk": t.side.project.pk, "webhook_pk": t.webhook.pk}, {"GET": Call(A.WEBHOOKS_MANAGE)}
    ),
    "api:webhook-delivery-detail": Entry(P, _api_delivery, {"GET": Call(A.WEBHOOKS_MANAGE)}),
    "api:webhook-delivery-redeliver": Entry(P, _api_delivery, {"POST": Call(A.WEBHOOKS_MANAGE)}),
    "api:character-reference-detail": Entry(
        P,
        lambda t: {**_api_project(t), "character_pk": t.character.pk, "pk": t.reference.pk},
        {
            "GET": Call(A.FOOTAGE_VIEW),
            "PATCH": Call(A.CHARACTERS_EDIT, lambda t: {"costume": "coat"}),
            "DELETE": Call(A.CHARACTERS_EDIT),
        },
    ),
}

_OWN_ACCOUNT = "the caller's own account, no studio in the URL (token ids: test_other_users_token_is_404)"
EXEMPT: dict[str, str] = {
    "home": "signed-in landing page listing the caller's own studios; no studio in the URL",
    "healthz": "public liveness probe",
    "set_language": "public language switch",
    "accounts:login": "public sign-in",
    "accounts:logout": "signs the caller out",
    "accounts:account": _OWN_ACCOUNT,
    "accounts:token_create": _OWN_ACCOUNT,
    "accounts:token_revoke": _OWN_ACCOUNT,
    "accounts:2fa_setup": _OWN_ACCOUNT,
    "accounts:2fa_verify": _OWN_ACCOUNT,
    "accounts:2fa_disable": _OWN_ACCOUNT,
    "accounts:password_change": _OWN_ACCOUNT,
    "accounts:password_reset": "public password reset",
    "accounts:password_reset_done": "public password reset",
    "accounts:password_reset_confirm": "public password reset (the emailed token is the key)",
    "accounts:password_reset_complete": "public password reset",
    "studios:invitation_accept": "public: the emailed invitation token is the key",
    "api:me": "the caller's own memberships",
    "api:studio-list": "lists only the caller's studios (selector-scoped, no id in the URL)",
    "api:token-list": _OWN_ACCOUNT,
    "api:token-detail": _OWN_ACCOUNT,
    "review:notifications": _OWN_ACCOUNT,
    "api:notification-list": _OWN_ACCOUNT,
    "api:notification-read": _OWN_ACCOUNT,
    "api:tus-upload": "owner-only upload URL: anyone but its creator gets 404 (tests/footage/test_tus.py)",
    "api:not-found": "answers 404 (JSON) to every path under the API that names no endpoint",
    "api-schema": "public API description",
    "api-docs": "public API description",
    "api-redoc": "public API description",
}
EXEMPT_METHODS: dict[tuple[str, str], str] = {
    ("api:project-list", "GET"): "lists only projects the caller may open (test_project_list_ignores_other_studio_filter)",
}
EXEMPT_NAMESPACES: dict[str, str] = {
    "admin": "Django admin: platform staff only, guarded by admin.site (is_staff), not by the studio policy",
}

# --- the resolver -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str | None  # namespaced, e.g. "studios:dashboard"; None when the pattern has no name
    namespace: str
    route: str
    callback: Any


def iter_routes(patterns=None, prefix: str = "", namespace: str = "") -> Iterator[Route]:
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            ns = ":".join(filter(None, [namespace, pattern.namespace]))
            yield from iter_routes(pattern.url_patterns, prefix + str(pattern.pattern), ns)
        elif isinstance(pattern, URLPattern):
            name = ":".join(filter(None, [namespace, pattern.name])) if pattern.name else None
            yield Route(name, namespace, prefix + str(pattern.pattern), pattern.callback)


def route_methods(callback) -> set[str] | None:
    """The HTTP methods a route answers (HEAD/OPTIONS aside); None for a function view."""
    actions = getattr(callback, "actions", None)  # DRF viewset: {"get": "list", ...}
    if actions:
        return {m.upper() for m in actions if m not in ("head", "options")}
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    if view_class is None:
        return None
    return {m.upper() for m in view_class.http_method_names if m not in ("head", "options") and hasattr(view_class, m)}


def declared_action(callback, method: str) -> Action | None:
    """The policy action the view class itself declares for method (None: the view declares none)."""
    view_class = getattr(callback, "view_class", None)
    cls = getattr(callback, "cls", None)
    actions = getattr(callback, "actions", None)
    if cls is not None and actions and issubclass(cls, ScopedAPIMixin):
        view_action = actions[method.lower()]
        action = cls.policy_actions_by_view_action.get(view_action) or cls.policy_actions.get(method)
        return Action(action) if action else None
    if view_class is not None and issubclass(view_class, StudioScopedView):
        try:
            return Action(view_class(**callback.view_initkwargs).action_for(method))
        except TypeError:
            return None
    return None


ROUTES: dict[str, Route] = {r.name: r for r in iter_routes() if r.name}


def policy_action(name: str, method: str) -> Action:
    """What (name, method) requires: the catalog's action, which must be what the view declares."""
    reviewed = CATALOG[name].methods[method].action
    declared = declared_action(ROUTES[name].callback, method)
    if declared is not None and declared != reviewed:
        raise AssertionError(f"{name} {method}: the view declares {declared}, the catalog says {reviewed}; review and update one")
    view_class = getattr(ROUTES[name].callback, "cls", None) or getattr(ROUTES[name].callback, "view_class", None)
    if declared is None and view_class is not None and issubclass(view_class, (StudioScopedView, ScopedAPIMixin)):
        raise AssertionError(f"{name} {method}: a scoped view that declares no policy action")
    return reviewed


# --- the cases --------------------------------------------------------------------------------

ROLES = tuple(ROLE_SPECS)  # studio_admin, member, producer, director, artist, viewer
CASES: tuple[tuple[str, str], ...] = (
    *((role, side) for role in ROLES for side in ("same", "other")),
    # no studio of their own, so "same" and "other" are one and the same case
    ("staff", "-"),
    ("anonymous", "-"),
)

SIGN_IN, ANON_API, ALLOWED = "302 sign-in", "401/403", "allowed"


def expected(entry: Entry, action: Action, role: str, side: str, *, api: bool, archived: bool) -> str:
    if role == "anonymous":
        return ANON_API if api else SIGN_IN
    if role == "staff" or side == "other":
        return "404"
    studio_role, project_role = ROLE_SPECS[role]
    on_project = entry.scope is Scope.PROJECT
    roles = {"studio_role": studio_role, "project_role": project_role}
    if allowed_by_table(action, **roles, archived=archived and on_project):
        return ALLOWED
    view_action = Action.PROJECT_VIEW if on_project else Action.STUDIO_VIEW
    return "403" if allowed_by_table(view_action, **roles, archived=archived and on_project) else "404"


def user_for(world: World, role: str, side: str):
    if role == "anonymous":
        return None
    if role == "staff":
        return world.staff
    return (world.a if side == "same" else world.b).users[role]


def describe(response) -> str:
    status = response.status_code
    if 300 <= status < 400:
        return f"{status} -> {response.get('Location', '?')}"
    if status == 400:
        body = getattr(response, "data", None) or response.content[:200]
        return f"400 {body}"
    return str(status)


def agrees(expect: str, response, *, login_url: str) -> bool:
    status = response.status_code
    location = response.get("Location", "")
    if expect == SIGN_IN:
        return status == 302 and location.startswith(login_url)
    if expect == ANON_API:
        return status in (401, 403)
    if expect == ALLOWED:
        if status in (401, 403, 404) or status >= 500:
            return False
        # a redirect to sign in or to the second factor is not "allowed"
        return not (300 <= status < 400 and location.startswith((login_url, "/account/2fa/")))
    return status == int(expect)


def send(client, method: str, url: str, payload: dict | None, *, api: bool):
    call = getattr(client, method.lower())
    if api:
        return call(url, payload, format="json") if payload is not None else call(url)
    response = call(url, payload or {}) if method != "GET" else call(url)
    if getattr(response, "streaming", False):
        b"".join(response.streaming_content)  # run the generator: errors in it are errors of the route
    return response


def denials(studio: Studio, user) -> int:
    return AuditEvent.objects.filter(chain=chain_for(studio.pk), studio=studio, action="access.denied", actor=user).count()


def table(rows) -> str:
    header = ("route", "method", "role", "side", "expected", "got")
    rows = [header, *rows]
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


def variants(name: str) -> list[tuple[str, bool]]:
    """(method, archived) pairs of a route: every method, and again on an archived project for routes in one."""
    entry = CATALOG[name]
    return [(method, False) for method in entry.methods] + (
        [(method, True) for method in entry.methods] if entry.scope is Scope.PROJECT else []
    )


# One test per route: its objects are made once and every (method, archived, role, side) case runs in
# a savepoint of its own that is rolled back, so no case sees another's writes.
MATRIX = list(CATALOG)


def _matrix_id(name: str) -> str:
    return name


def check_route(name: str, world: World, client_for, api_for) -> tuple[list[tuple], int]:
    """Every case of one route: (mismatches, cases checked)."""
    entry = CATALOG[name]
    api = name.startswith("api:")
    targets = targets_for(world.a)
    url = reverse(name, kwargs=entry.kwargs(targets))
    login_url = reverse("accounts:login")
    # Sign in outside the savepoints: a session rolled back with a case would sign the next one out.
    clients = {(role, side): (api_for if api else client_for)(user_for(world, role, side)) for role, side in CASES}

    mismatches, checked = [], 0
    for method, archived in variants(name):
        shown = method + (" (archived)" if archived else "")
        try:
            action = policy_action(name, method)
        except AssertionError as exc:
            mismatches.append((name, shown, "-", "-", "the view's declared action", str(exc)))
            continue
        call = entry.methods[method]
        payload = call.payload(targets) if call.payload else None
        with transaction.atomic():
            if archived:
                project_archive(actor=world.a.users["studio_admin"], project=world.a.project)
            for role, side in CASES:
                user = user_for(world, role, side)
                expect = expected(entry, action, role, side, api=api, archived=archived)
                with transaction.atomic():
                    try:
                        refusal = expect in ("403", "404")
                        before = denials(world.a.studio, user) if refusal else 0
                        response = send(clients[role, side], method, url, payload, api=api)
                        got = describe(response)
                        ok = agrees(expect, response, login_url=login_url)
                        if ok and refusal and denials(world.a.studio, user) == before:
                            ok, got = False, f"{got}, but no access.denied row in studio A's chain"
                    except Exception as exc:  # noqa: BLE001 - a crash is a mismatch to report, with the others
                        ok, got = False, f"raised {type(exc).__name__}: {exc}"
                    transaction.set_rollback(True)
                checked += 1
                if not ok:
                    mismatches.append((name, shown, role, side, f"{expect} [{action}]", got))
            transaction.set_rollback(True)
    return mismatches, checked


@pytest.mark.one_mode
@pytest.mark.parametrize("name", MATRIX, ids=[_matrix_id(n) for n in MATRIX])
def test_policy_matrix(name, world, client_for, api_for, matrix_tally):
    mismatches, checked = check_route(name, world, client_for, api_for)
    matrix_tally["cases"] += checked
    matrix_tally["tests"].add(_matrix_id(name))
    assert not mismatches, f"{name}: the response disagrees with the policy table\n" + table(mismatches)
    assert checked == len(variants(name)) * len(CASES)


# --- the catalog is complete, and the count is what it should be -----------------------------


def test_every_route_has_a_policy_entry():
    problems = []
    seen = set()
    for route in iter_routes():
        if route.namespace.split(":")[0] in EXEMPT_NAMESPACES:
            continue
        if route.name is None:
            problems.append(f"{route.route}: an unnamed route cannot be catalogued; name it")
            continue
        seen.add(route.name)
        if route.name in EXEMPT:
            continue
        methods = route_methods(route.callback)
        if methods is None:
            problems.append(f"{route.name} ({route.route}): a function view neither in CATALOG nor in EXEMPT")
            continue
        catalogued = set(CATALOG[route.name].methods) if route.name in CATALOG else set()
        for method in sorted(methods):
            if (route.name, method) in EXEMPT_METHODS or method in catalogued:
                try:
                    if method in catalogued:
                        policy_action(route.name, method)
                except AssertionError as exc:
                    problems.append(str(exc))
                continue
            problems.append(f"{route.name} {method} ({route.route}): no policy entry; add it to CATALOG or EXEMPT with a reason")
        for method in sorted(catalogued - methods):
            problems.append(f"{route.name} {method}: in CATALOG but the route does not answer it")
    for name in sorted((set(CATALOG) | set(EXEMPT) | {n for n, _m in EXEMPT_METHODS}) - seen):
        problems.append(f"{name}: in CATALOG/EXEMPT but not in the URLconf any more")
    for name in sorted(set(CATALOG) & set(EXEMPT)):
        problems.append(f"{name}: both in CATALOG and in EXEMPT")
    assert not problems, "\n".join(problems)


def matrix_floor() -> int:
    """Computed from the resolver, not from CATALOG: every non-exempt (route, method) × every case."""
    pairs = 0
    for route in iter_routes():
        if route.namespace.split(":")[0] in EXEMPT_NAMESPACES or route.name in EXEMPT or route.name is None:
            continue
        pairs += len({m for m in route_methods(route.callback) or () if (route.name, m) not in EXEMPT_METHODS})
    return pairs * len(CASES)


@pytest.mark.one_mode
def test_matrix_checked_at_least_the_floor(matrix_tally):
    """Runs after the matrix (file order): the whole matrix ran, and covered at least the floor."""
    missing = {_matrix_id(p) for p in MATRIX} - matrix_tally["tests"]
    if missing == {_matrix_id(p) for p in MATRIX}:
        pytest.skip("the policy matrix did not run in this session (selected out)")
    if missing:
        pytest.skip(f"{len(missing)} matrix tests were not selected or did not run to the end")
    floor = matrix_floor()
    assert floor >= 30 * len(CASES), f"the resolver shows only {floor // len(CASES)} policy routes×methods"
    assert matrix_tally["cases"] >= floor


# --- methods a route does not serve -----------------------------------------------------------

ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def unserved_methods(name: str) -> list[str]:
    served = set(CATALOG[name].methods) | {m for n, m in EXEMPT_METHODS if n == name}
    return [m for m in ALL_METHODS if m not in served]


def missing_targets() -> Targets:
    """URL parts that point at nothing: what an outsider's probe is compared with."""
    nothing = SimpleNamespace(pk=10**9, asset_id=10**9)
    studio, project = SimpleNamespace(slug="no-such-studio", pk=10**9), SimpleNamespace(code="NO_SUCH", pk=10**9)
    return Targets(SimpleNamespace(studio=studio, project=project), *[nothing] * 12)  # type: ignore[arg-type]


def _status(client, method: str, url: str) -> str:
    with transaction.atomic():
        try:
            return str(getattr(client, method.lower())(url).status_code)
        except Exception as exc:  # noqa: BLE001 - reported with the others
            return f"raised {type(exc).__name__}: {exc}"
        finally:
            transaction.set_rollback(True)


@pytest.mark.one_mode
def test_head_options_and_unserved_methods_never_crash(world, client_for, api_for):
    """HEAD answers like GET; OPTIONS and methods a route does not serve never answer 5xx."""
    targets = targets_for(world.a)
    roles = [("studio_admin", "same"), ("member", "same"), ("studio_admin", "other")]
    clients = {}
    for role, side in roles:
        user = user_for(world, role, side)
        clients[role, side] = (api_for(user), client_for(user))
    mismatches = []
    for name, entry in CATALOG.items():
        api = name.startswith("api:")
        url = reverse(name, kwargs=entry.kwargs(targets))
        for method in unserved_methods(name):
            for role, side in roles:
                got = _status(clients[role, side][0 if api else 1], method, url)
                if method == "HEAD" and "GET" in entry.methods:
                    expect = expected(entry, entry.methods["GET"].action, role, side, api=api, archived=False)
                    ok = got.isdigit() and (
                        int(got) not in (401, 403, 404) and int(got) < 500 if expect == ALLOWED else got == expect
                    )
                else:
                    expect = "not 5xx"
                    ok = got.isdigit() and int(got) < 500
                if not ok:
                    mismatches.append((name, method, role, side, expect, got))
    assert not mismatches, table(mismatches)


@pytest.mark.one_mode
def test_outsiders_cannot_tell_existing_from_missing_by_method(world, client_for, api_for):
    """Another studio's admin, or platform staff, get the same answer for studio A's objects as for
    objects that do not exist, whatever the method."""
    real, missing = targets_for(world.a), missing_targets()
    outsiders = {"studio_admin/other": world.b.users["studio_admin"], "staff": world.staff}
    mismatches = []
    for who, user in outsiders.items():
        api_client, page_client = api_for(user), client_for(user)
        for name, entry in CATALOG.items():
            client = api_client if name.startswith("api:") else page_client
            real_url, missing_url = reverse(name, kwargs=entry.kwargs(real)), reverse(name, kwargs=entry.kwargs(missing))
            for method in unserved_methods(name):
                got, baseline = _status(client, method, real_url), _status(client, method, missing_url)
                if got != baseline:
                    mismatches.append((name, method, who, "other", f"{baseline} (as if missing)", got))
    assert not mismatches, table(mismatches)


# --- audit: refusals are on the record, in the studio's own chain -----------------------------


def _denial_rows(studio, user):
    return list(AuditEvent.objects.filter(chain=chain_for(studio.pk), studio=studio, action="access.denied", actor=user))


def test_page_denials_are_audited_in_the_studios_chain(world, client_for):
    a = world.a
    # seen but not allowed: 403
    member = a.users["member"]
    response = client_for(member).get(reverse("studios:audit", kwargs={"studio": a.studio.slug}))
    assert response.status_code == 403
    [row] = _denial_rows(a.studio, member)
    assert row.details == {"attempted": "audit.view", "answered": 403}
    # not even seen (a studio member with no role on the project): 404
    response = client_for(member).get(reverse("projects:detail", kwargs={"studio": a.studio.slug, "project": a.project.code}))
    assert response.status_code == 404
    rows = _denial_rows(a.studio, member)
    assert len(rows) == 2
    assert rows[0].project_id == a.project.pk and rows[0].details == {"attempted": "project.view", "answered": 404}
    # another studio's admin: 404, written in studio A's chain (not B's)
    outsider = world.b.users["studio_admin"]
    response = client_for(outsider).post(
        reverse(
            "studios:member_remove",
            kwargs={"studio": a.studio.slug, "membership_id": StudioMembership.objects.get(user=member).pk},
        )
    )
    assert response.status_code == 404
    [row] = _denial_rows(a.studio, outsider)
    assert row.details == {"attempted": "studio.members.manage", "answered": 404}
    assert not AuditEvent.objects.filter(chain=chain_for(world.b.studio.pk), action="access.denied").exists()
    assert StudioMembership.objects.filter(studio=a.studio, user=member).exists()


def test_api_denials_are_audited_in_the_studios_chain(world, api_for):
    a = world.a
    viewer = a.users["viewer"]
    response = api_for(viewer).patch(f"/api/v1/projects/{a.project.pk}/", {"name": "Nope"}, format="json")
    assert response.status_code == 403
    [row] = _denial_rows(a.studio, viewer)
    assert row.project_id == a.project.pk and row.details == {"attempted": "project.manage", "answered": 403}
    member = a.users["member"]
    response = api_for(member).get(f"/api/v1/projects/{a.project.pk}/members/")
    assert response.status_code == 404
    [row] = _denial_rows(a.studio, member)
    assert row.details == {"attempted": "project.view", "answered": 404}
    outsider = world.b.users["studio_admin"]
    response = api_for(outsider).get(f"/api/v1/studios/{a.studio.pk}/audit-events/")
    assert response.status_code == 404
    [row] = _denial_rows(a.studio, outsider)
    assert row.details == {"attempted": "audit.view", "answered": 404}
    staff = world.staff
    response = api_for(staff).get(f"/api/v1/studios/{a.studio.pk}/")
    assert response.status_code == 404
    [row] = _denial_rows(a.studio, staff)
    assert row.details == {"attempted": "studio.view", "answered": 404}
    assert Project.objects.get(pk=a.project.pk).name == a.project.name


# --- another studio's ids in bodies and query strings leak nothing ----------------------------


def test_project_create_in_another_studio_by_body_is_404(world, api_for):
    response = api_for(world.a.users["studio_admin"]).post(
        "/api/v1/projects/", {"studio": world.b.studio.pk, "code": "SNEAK", "name": "Sneak"}, format="json"
    )
    assert response.status_code == 404
    assert not Project.objects.filter(code="SNEAK").exists()


def test_invitation_to_another_studios_project_is_404(world, api_for):
    a, b = world.a, world.b
    response = api_for(a.users["studio_admin"]).post(
        f"/api/v1/studios/{a.studio.pk}/invitations/",
        {"email": "sneak@example.test", "studio_role": "member", "project": b.project.pk, "project_role": "viewer"},
        format="json",
    )
    assert response.status_code == 404
    assert not Invitation.objects.filter(email="sneak@example.test").exists()


def test_project_list_ignores_other_studio_filter(world, api_for):
    client = api_for(world.a.users["studio_admin"])
    response = client.get("/api/v1/projects/", {"studio": world.b.studio.pk})
    assert response.status_code == 200
    assert response.json()["results"] == []
    # and unfiltered, only studio A's project
    response = client.get("/api/v1/projects/")
    assert [p["id"] for p in response.json()["results"]] == [world.a.project.pk]


def test_audit_events_filter_by_another_studios_project_is_empty(world, api_for):
    response = api_for(world.a.users["studio_admin"]).get(
        f"/api/v1/studios/{world.a.studio.pk}/audit-events/", {"project": world.b.project.pk}
    )
    assert response.status_code == 200
    assert response.json()["results"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"status": "active"},
        {"status": "suspended"},
        {"storage_quota_bytes": 1},
        {"name": "Renamed by an admin"},
        {"retention_days": 30, "status": "suspended"},  # an allowed field does not carry a refused one
    ],
    ids=lambda body: ",".join(body),
)
def test_studio_patch_refuses_fields_the_role_may_not_set(world, api_for, body):
    studio = world.a.studio
    before = Studio.objects.filter(pk=studio.pk).values().get()
    response = api_for(world.a.users["studio_admin"]).patch(f"/api/v1/studios/{studio.pk}/", body, format="json")
    assert response.status_code == 400, response.content
    assert Studio.objects.filter(pk=studio.pk).values().get() == before


def test_another_studios_membership_via_my_studios_url_is_404(world, api_for, client_for):
    a, b = world.a, world.b
    admin = a.users["studio_admin"]
    theirs = StudioMembership.objects.get(studio=b.studio, user=b.users["member"])
    api = api_for(admin)
    assert (
        api.patch(f"/api/v1/studios/{a.studio.pk}/members/{theirs.pk}/", {"role": "studio_admin"}, format="json").status_code
        == 404
    )
    assert api.delete(f"/api/v1/studios/{a.studio.pk}/members/{theirs.pk}/").status_code == 404
    page = client_for(admin)
    for url_name in ("studios:member_role", "studios:member_remove"):
        url = reverse(url_name, kwargs={"studio": a.studio.slug, "membership_id": theirs.pk})
        assert page.post(url, {"role": "studio_admin"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.role == "member"

    their_pm = ProjectMembership.objects.get(project=b.project, user=b.users["viewer"])
    assert (
        api.patch(f"/api/v1/projects/{a.project.pk}/members/{their_pm.pk}/", {"role": "producer"}, format="json").status_code
        == 404
    )
    assert api.delete(f"/api/v1/projects/{a.project.pk}/members/{their_pm.pk}/").status_code == 404
    for url_name in ("projects:member_role", "projects:member_remove"):
        url = reverse(url_name, kwargs={"studio": a.studio.slug, "project": a.project.code, "membership_id": their_pm.pk})
        assert page.post(url, {"role": "producer"}).status_code == 404
    their_pm.refresh_from_db()
    assert their_pm.role == "viewer"


def test_another_studios_invitation_via_my_studios_url_is_404(world, api_for, client_for):
    a, b = world.a, world.b
    admin = a.users["studio_admin"]
    theirs = targets_for(b).invitation
    for op in ("resend", "revoke"):
        assert api_for(admin).post(f"/api/v1/studios/{a.studio.pk}/invitations/{theirs.pk}/{op}/").status_code == 404
        url = reverse(f"studios:invitation_{op}", kwargs={"studio": a.studio.slug, "invitation_id": theirs.pk})
        assert client_for(admin).post(url).status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None and theirs.send_count == 1


def test_adding_another_studios_user_to_my_project_answers_like_an_unknown_user(world, api_for):
    a, b = world.a, world.b
    api = api_for(a.users["studio_admin"])
    url = f"/api/v1/projects/{a.project.pk}/members/"
    theirs = api.post(url, {"user_id": b.users["member"].pk, "role": "viewer"}, format="json")
    nobody = api.post(url, {"user_id": 10**9, "role": "viewer"}, format="json")
    assert theirs.status_code == nobody.status_code == 400
    assert theirs.json() == nobody.json()
    assert not ProjectMembership.objects.filter(project=a.project, user=b.users["member"]).exists()


# --- account routes: a token id of someone else is "not found" --------------------------------


def test_other_users_token_is_404(world, api_for, client_for):
    owner, other = world.a.users["artist"], world.a.users["producer"]
    token, _raw = api_token_create(user=owner, name="render farm")
    assert api_for(other).delete(f"/api/v1/tokens/{token.pk}/").status_code == 404
    assert client_for(other).post(reverse("accounts:token_revoke", kwargs={"token_id": token.pk})).status_code == 404
    # another studio's admin and platform staff neither
    assert api_for(world.b.users["studio_admin"]).delete(f"/api/v1/tokens/{token.pk}/").status_code == 404
    assert api_for(world.staff).delete(f"/api/v1/tokens/{token.pk}/").status_code == 404
    assert token.pk not in [t["id"] for t in api_for(other).get("/api/v1/tokens/").json()["results"]]
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
    # the owner can
    assert api_for(owner).delete(f"/api/v1/tokens/{token.pk}/").status_code == 204
