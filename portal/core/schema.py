"""The OpenAPI schema documents the errors each endpoint can really answer, not only its successes.

Every operation of the API gets, on top of what its view declares:
- 401 (no or a bad credential) and 403 (a role, a studio's two-factor rule, a missing CSRF token);
- 404 where the path names an object (another studio's object is "not found" too) or a page;
- 400 where a body or a query parameter is read, or the view declares it (`error_statuses`);
- 415 where a body is read (a content type no parser takes);
and what the view declares in `error_statuses` ({action or method: {409, ...}}). Bodies follow the
exception handler in portal/core/api.py: `{"detail", "code"}`, and for bad input one entry per
field. Views whose errors are plain text (tus) say so with `error_content_type`."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent

from portal.core.api import RefuseUnknownFieldsMixin

_ERROR_SCHEMA = {
    "type": "object",
    "description": "An error: what went wrong, in words a person can act on.",
    "properties": {
        "detail": {"type": "string", "description": "The message to show."},
        "code": {"type": "string", "description": "A stable name of the error, where there is one (e.g. stale)."},
    },
    "required": ["detail"],
}
_VALIDATION_SCHEMA = {
    "type": "object",
    "description": (
        "Bad input: one entry per field at fault (its messages), or `detail` for the request as a whole. "
        'A field the endpoint does not take is named with "Unknown field".'
    ),
    "properties": {"detail": {"description": "A message about the request as a whole (a string or a list of strings)."}},
    "additionalProperties": {"description": "The messages about the field of this name (a list of strings, or nested)."},
}

DESCRIPTIONS = {
    400: "Bad input: the fields, headers or query parameters at fault, each with its message",
    401: "No credential, or a bad, expired or revoked one",
    403: "Signed in, but not allowed: the role, the studio's two-factor rule, or a missing CSRF token",
    404: "No such object, or one the caller may not see (another studio's answers the same)",
    409: "In conflict with the object's current state (it changed, or it is over)",
    410: "Gone: it expired",
    412: "Precondition failed",
    413: "Too large for the file size limit or the studio's quota",
    415: "A body of a content type this endpoint does not read",
    460: "Checksum mismatch",
}


def _component(registry, name: str, schema: dict) -> dict:
    component = ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema)
    registry.register_on_missing(component)
    return component.ref


class PortalAutoSchema(AutoSchema):
    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and isinstance(serializer, RefuseUnknownFieldsMixin):
            schema["additionalProperties"] = False  # what the server does: any other field is a 400
        return schema

    def _path_has_parameters(self) -> bool:
        return "{" in self.path

    def _reads_body(self) -> bool:
        # tus views have no parser: their body is the file, never parsed, so never a 415.
        return self.method in ("POST", "PUT", "PATCH") and bool(getattr(self.view, "parser_classes", None))

    def _query_parameters(self) -> bool:
        return any(p.get("in") == "query" and p.get("name") not in ("page", "page_size") for p in self._get_parameters())

    def error_statuses(self) -> set[int]:
        codes = {401, 403}
        declared = getattr(self.view, "error_statuses", {})
        codes |= set(declared.get(getattr(self.view, "action", None) or self.method.lower(), ()))
        if self._path_has_parameters() or (self.method == "GET" and self._is_list_view() and self._get_paginator()):
            codes.add(404)
        if self._reads_body():
            codes |= {400, 415}
        elif self.method in ("POST", "PUT", "PATCH") or self._query_parameters():
            codes.add(400)
        return codes

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        content_type = getattr(self.view, "error_content_type", "application/json")
        for code in sorted(self.error_statuses()):
            key = str(code)
            existing = responses.get(key)
            if existing and existing.get("content"):
                continue
            description = (existing or {}).get("description") or DESCRIPTIONS.get(code, "Error")
            if content_type == "text/plain":
                content = {"text/plain": {"schema": {"type": "string"}}}
            else:
                ref = (
                    _component(self.registry, "ValidationError", _VALIDATION_SCHEMA)
                    if code == 400
                    else _component(self.registry, "Error", _ERROR_SCHEMA)
                )
                content = {"application/json": {"schema": ref}}
            responses[key] = {"description": description, "content": content}
        return responses
