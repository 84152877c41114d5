"""Unknown body fields are refused everywhere in the API (issue 16): every write endpoint, sent an
otherwise valid request plus a field it does not take, answers 400 naming that field and writes
nothing. The endpoints come from the URL resolver, so a new write endpoint cannot be forgotten."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.core.api import RefuseUnknownFieldsMixin, StrictSerializer
from tests.access.test_policy_matrix import (
    ALLOWED,
    CATALOG,
    ROLES,
    ROUTES,
    Call,
    Entry,
    expected,
    policy_action,
    route_methods,
    targets_for,
)

WRITE_METHODS = {"POST", "PUT", "PATCH"}
# Routes whose body is not fields: tus creation and chunks are headers and raw bytes.
RAW_BODY = {"api:tus-create", "api:tus-upload"}
# The caller's own account: not in the policy catalog (no studio or project in the URL).
OWN: dict[str, tuple[dict, dict[str, Call]]] = {
    "api:token-list": ({}, {"POST": Call(None, lambda t: {"name": "ci token"})}),
    "api:notification-read": ({}, {"POST": Call(None, lambda t: {"ids": []})}),
}


def write_cases() -> list[tuple[str, str]]:
    cases = []
    for name, route in sorted(ROUTES.items()):
        if not name.startswith("api:") or name in RAW_BODY:
            continue
        for method in sorted((route_methods(route.callback) or set()) & WRITE_METHODS):
            cases.append((name, method))
    return cases


CASES = write_cases()


def test_every_write_endpoint_is_walked():
    missing = [(name, method) for name, method in CASES if method not in (CATALOG.get(name) or Entry(None, dict)).methods]
    missing = [(name, method) for name, method in missing if method not in OWN.get(name, ({}, {}))[1]]
    assert not missing, f"write endpoints with no known body or caller here: {missing}"
    assert len(CASES) >= 25  # the walk did find the API's write endpoints


def _caller(world, targets, name: str, method: str):
    if name in OWN:
        return world.a.users["artist"]
    entry = CATALOG[name]
    action = policy_action(name, method)
    for role in ROLES:
        if expected(entry, action, role, "same", api=True, archived=False) == ALLOWED:
            return world.a.users[role]
    raise AssertionError(f"no role may call {name} {method}")


@pytest.mark.parametrize(("name", "method"), CASES, ids=[f"{n}-{m}" for n, m in CASES])
def test_an_unknown_body_field_is_refused(name, method, world, api_for):
    targets = targets_for(world.a)
    if name in OWN:
        kwargs, methods = OWN[name]
    else:
        kwargs, methods = CATALOG[name].kwargs(targets), CATALOG[name].methods
    call = methods[method]
    body = {**(call.payload(targets) if call.payload else {}), "owner_id": 1}
    client = api_for(_caller(world, targets, name, method))
    rows_before = AuditEvent.objects.count()

    response = getattr(client, method.lower())(reverse(name, kwargs=kwargs), body, format="json")

    assert response.status_code == 400, (response.status_code, response.content[:300])
    assert "owner_id" in response.json(), response.json()
    assert "Unknown field" in str(response.json()["owner_id"])
    assert AuditEvent.objects.count() == rows_before  # refused before any service wrote anything


def test_a_read_only_field_is_refused_not_ignored(world, api_for):
    targets = targets_for(world.a)
    admin = world.a.users["studio_admin"]
    url = reverse("api:project-member-detail", kwargs={"project_pk": world.a.project.pk, "pk": targets.project_membership.pk})
    response = api_for(admin).patch(url, {"role": "artist", "created_at": "2020-01-01T00:00:00Z"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"created_at": ["This field cannot be set here."]}
    targets.project_membership.refresh_from_db()
    assert targets.project_membership.role == "viewer"


def test_the_refusal_comes_with_the_other_errors():
    class Example(StrictSerializer):
        from rest_framework import serializers

        name = serializers.CharField()

    serializer = Example(data={"nmae": "typo"})
    assert not serializer.is_valid()
    assert set(serializer.errors) == {"name", "nmae"}


def test_every_serializer_the_api_reads_a_body_with_is_strict():
    """Belt and braces for bodies read outside the walk's payloads: every serializer class a
    write action's schema names as its request is strict."""
    from drf_spectacular.generators import SchemaGenerator

    generator = SchemaGenerator()
    generator._initialise_endpoints()  # noqa: SLF001
    loose, checked = [], 0
    for path, _pattern, method, view in generator._get_paths_and_endpoints():  # noqa: SLF001
        if method not in WRITE_METHODS:
            continue
        request = view.schema.get_request_serializer()
        if request is None or not hasattr(request, "fields"):
            continue
        cls = request if isinstance(request, type) else type(request)
        checked += 1
        if not issubclass(cls, RefuseUnknownFieldsMixin):
            loose.append(f"{method} {path}: {cls.__name__}")
    assert not loose, loose
    assert checked >= 15
