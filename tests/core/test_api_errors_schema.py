"""The OpenAPI schema documents the errors each endpoint can answer (issue 16), with an error schema,
and the API answers them in the documented shape: an unknown path under /api/v1/ is a JSON 404."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

from portal.core.api import RefuseUnknownFieldsMixin


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield path, method.upper(), operation


def _ref_name(response, media="application/json"):
    return response["content"][media]["schema"]["$ref"].rsplit("/", 1)[1]


def test_every_operation_documents_its_error_answers(schema):
    problems = []
    for path, method, operation in _operations(schema):
        codes = set(operation["responses"])
        wanted = {"401", "403"}
        if "{" in path:
            wanted.add("404")
        if method in ("POST", "PUT", "PATCH"):
            wanted.add("400")
        if operation.get("requestBody"):
            wanted.add("415")
        if any(p["in"] == "query" and p["name"] not in ("page", "page_size") for p in operation.get("parameters", [])):
            wanted.add("400")
        if not wanted <= codes:
            problems.append(f"{method} {path}: lacks {sorted(wanted - codes)}")
        for code, response in operation["responses"].items():
            if code.startswith("4") and not response.get("content"):
                problems.append(f"{method} {path}: {code} has no body schema")
    assert not problems, "\n".join(problems)


def test_error_bodies_have_a_schema_of_their_own(schema):
    components = schema["components"]["schemas"]
    assert components["Error"]["required"] == ["detail"]
    assert "additionalProperties" in components["ValidationError"]
    operation = schema["paths"]["/api/v1/projects/{project_pk}/versions/{version_pk}/decisions/"]["post"]
    assert _ref_name(operation["responses"]["400"]) == "ValidationError"
    assert _ref_name(operation["responses"]["404"]) == "Error"
    assert _ref_name(operation["responses"]["409"]) == "Error"  # the version changed since the producer looked
    cancel = schema["paths"]["/api/v1/projects/{project_pk}/toolruns/{id}/cancel/"]["post"]
    assert "409" in cancel["responses"]
    # tus answers its errors in plain text, and says so
    tus = schema["paths"]["/api/v1/projects/{project_pk}/uploads/"]["post"]["responses"]
    assert {"400", "401", "403", "404", "412", "413"} <= set(tus)
    assert "text/plain" in tus["413"]["content"]


def test_strict_request_bodies_say_they_take_no_other_field(schema):
    components = schema["components"]["schemas"]
    operation = schema["paths"]["/api/v1/projects/{project_pk}/toolruns/"]["post"]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert components[ref]["additionalProperties"] is False
    assert issubclass(__import__("portal.toolruns.api", fromlist=["x"]).ToolRunCreateSerializer, RefuseUnknownFieldsMixin)


def test_an_unknown_api_path_is_a_json_404(world, api_for):
    client = api_for(world.a.users["producer"])
    for path in (
        "/api/v1/projects//characters/0/",
        "/api/v1/no-such-thing/",
        "/api/v1/projects/%0Ax/archive/",
        f"/api/v1/projects/{world.a.project.pk}/nope/",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"detail": "Not found."}
    # Any method, with no CSRF cookie (an API client's case): still the JSON 404, not a "form expired" page.
    from rest_framework.test import APIClient

    strict = APIClient(enforce_csrf_checks=True)
    strict.force_authenticate(world.a.users["producer"])
    for method in ("post", "patch", "delete"):
        response = getattr(strict, method)("/api/v1/studios/%C2%84/", {"name": "x"}, format="json")
        assert (response.status_code, response["Content-Type"]) == (404, "application/json"), method
    # Without the trailing slash Django still redirects to the endpoint.
    assert client.get("/api/v1/me").status_code == 301


def test_tus_answers_a_bad_token_in_its_documented_plain_text(world):
    from rest_framework.test import APIClient

    from portal.accounts.services import api_token_create, api_token_revoke

    artist = world.a.users["artist"]
    token, raw = api_token_create(user=artist, name="uploader")
    api_token_revoke(user=artist, token=token)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_TUS_RESUMABLE="1.0.0", HTTP_UPLOAD_LENGTH="10")
    response = client.post(f"/api/v1/projects/{world.a.project.pk}/uploads/")
    assert response.status_code == 401
    assert response["Content-Type"].startswith("text/plain")
    assert "revoked" in response.content.decode()
    assert response["WWW-Authenticate"] == "Bearer"
    anonymous = APIClient().post(f"/api/v1/projects/{world.a.project.pk}/uploads/", HTTP_TUS_RESUMABLE="1.0.0")
    assert anonymous.status_code == 401 and anonymous["Content-Type"].startswith("text/plain")
