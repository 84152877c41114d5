"""The tus 1.0.0 endpoint (core, creation, creation-defer-length, termination, checksum, expiration).

DRF views, so API tokens and browser sessions (with CSRF) authenticate exactly as on the rest of
the API; the body of a PATCH is read as a stream from the underlying request and never parsed.
The protocol rules live in services.py; this file only translates headers and status codes."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils.http import http_date
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated, PermissionDenied

from portal.access import scope
from portal.access.api import ScopedAPIView
from portal.access.policy import Action
from portal.core.asgi_handler import ClientDisconnected
from portal.footage import services
from portal.footage.services import UploadError

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,creation-defer-length,termination,checksum,expiration"


def _tus_headers(response: HttpResponse) -> HttpResponse:
    response["Tus-Resumable"] = TUS_VERSION
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _error(status: int, message: str) -> HttpResponse:
    response = HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
    if status == 412:
        response["Tus-Version"] = TUS_VERSION
    return _tus_headers(response)


def _int_header(request, name: str) -> int | None:
    raw = request.headers.get(name)
    if raw is None:
        return None
    raw = raw.strip()
    if not raw.isdigit():
        raise UploadError(400, f"{name} must be a non-negative whole number.")
    return int(raw)


def _expires(upload) -> str:
    return http_date(upload.expires_at.timestamp())


class UploadScope(scope.UrlScope):
    """An upload URL names the upload, and only its creator's: anyone else (and a terminated upload)
    gets 404. The policy then places it by its project (upload.project, with its studio, in this one query)."""

    def find(self, kwargs, user=None):
        upload = services.upload_lookup(user, kwargs.get(self.kwarg))
        if upload is None:
            raise Http404("No such upload.")
        return upload


class _TusView(ScopedAPIView, abstract=True):
    """The scope is resolved and the policy asked once, in initial(), by the one resolver (access.api
    ScopedAPIView): the handlers get `self.scope` (the project, or the caller's upload) already checked."""

    # The body is the file: no DRF parser may touch it.
    parser_classes: list = []
    error_content_type = "text/plain"
    error_statuses = {"post": {400, 404, 412, 413}}

    def options(self, request, *args, **kwargs):
        response = HttpResponse(status=204)
        response["Tus-Version"] = TUS_VERSION
        response["Tus-Extension"] = EXTENSIONS
        response["Tus-Max-Size"] = str(settings.FOOTAGE_MAX_FILE_SIZE)
        response["Tus-Checksum-Algorithm"] = ",".join(settings.TUS_CHECKSUM_ALGORITHMS)
        return _tus_headers(response)

    def handle_exception(self, exc):
        if isinstance(exc, UploadError):
            return _error(exc.status, exc.message)
        if isinstance(exc, ClientDisconnected):
            # Nobody is left to read this; the part file is already back at the recorded offset.
            return _error(400, "The connection closed before the chunk was complete; nothing of it was kept.")
        if isinstance(exc, Http404):
            return _error(404, "No such upload.")
        if isinstance(exc, (NotAuthenticated, AuthenticationFailed)):
            # A bad token is told why (revoked, expired, malformed), in plain text like every tus error.
            message = str(exc.detail) if isinstance(exc, AuthenticationFailed) else "Sign in, or send an API token, to upload."
            response = _error(401, message)
            challenge = self.get_authenticate_header(self.request)
            if challenge:
                response["WWW-Authenticate"] = challenge
            return response
        if isinstance(exc, PermissionDenied):
            return _error(403, str(exc.detail))
        from django.core.exceptions import PermissionDenied as DjangoPermissionDenied

        if isinstance(exc, DjangoPermissionDenied):
            return _error(403, str(exc) or "Your role does not allow uploading here.")
        return super().handle_exception(exc)

    def _require_tus(self, request) -> None:
        if request.headers.get("Tus-Resumable") != TUS_VERSION:
            raise UploadError(412, f"This server speaks tus {TUS_VERSION}: send Tus-Resumable: {TUS_VERSION}.")


class UploadCreateView(_TusView):
    """POST /api/v1/projects/{project_pk}/uploads/ — tus creation."""

    url_scope = scope.PROJECT_PK
    # The policy answers first: an outsider learns nothing, not even which headers are missing.
    policy_actions = {"POST": Action.FOOTAGE_UPLOAD}

    @extend_schema(
        summary="Start a resumable (tus 1.0.0) upload",
        description=(
            "Send `Tus-Resumable: 1.0.0`, `Upload-Length` (or `Upload-Defer-Length: 1`) and `Upload-Metadata` "
            "(base64 values: filename, kind = footage|plate|reference|subtitles|music, asset_name, shot_code, "
            "asset (id, to add a version), note, sha256 (hex, checked after the upload)). The `Location` header "
            "is the upload's URL: PATCH chunks to it (`Content-Type: application/offset+octet-stream`, "
            "`Upload-Offset`, optional `Upload-Checksum: sha256 <base64>`), HEAD it to resume, DELETE it to cancel."
        ),
        request=None,
        responses={201: None},
        parameters=[
            OpenApiParameter("Upload-Length", {"type": "integer", "minimum": 1}, OpenApiParameter.HEADER),
            OpenApiParameter("Upload-Metadata", str, OpenApiParameter.HEADER),
            OpenApiParameter("Tus-Resumable", str, OpenApiParameter.HEADER, required=True, enum=[TUS_VERSION]),
        ],
    )
    def post(self, request, project_pk: int):
        project = self.scope
        self._require_tus(request)
        length = _int_header(request, "Upload-Length")
        if length is None and request.headers.get("Upload-Defer-Length") != "1":
            raise UploadError(400, "Send Upload-Length, or Upload-Defer-Length: 1 if the size is not known yet.")
        upload = services.upload_create(
            actor=request.user, project=project, length=length, metadata_header=request.headers.get("Upload-Metadata")
        )
        response = HttpResponse(status=201)
        response["Location"] = request.build_absolute_uri(reverse("api:tus-upload", kwargs={"upload_id": upload.pk}))
        response["Upload-Expires"] = _expires(upload)
        response["Upload-Offset"] = "0"
        response["X-Asset-Id"] = str(upload.version.asset_id)
        response["X-Asset-Version-Id"] = str(upload.version_id)
        return _tus_headers(response)


class UploadView(_TusView):
    """HEAD / PATCH / DELETE /api/v1/uploads/{upload_id}/ — only ever by the user who created it."""

    url_scope = UploadScope("project", "upload_id")
    # Lost membership or a suspended studio: the upload is gone for them too (project.view).
    policy_actions = {
        "HEAD": Action.PROJECT_VIEW,
        "GET": Action.PROJECT_VIEW,
        "PATCH": Action.FOOTAGE_UPLOAD,
        "DELETE": Action.PROJECT_VIEW,
    }

    @extend_schema(exclude=True)
    def head(self, request, upload_id):
        self._require_tus(request)
        upload = services.upload_head(actor=request.user, upload=self.scope)
        response = HttpResponse(status=200)
        response["Upload-Offset"] = str(upload.offset)
        if upload.length is None:
            response["Upload-Defer-Length"] = "1"
        else:
            response["Upload-Length"] = str(upload.length)
        if upload.status == upload.Status.ACTIVE:
            response["Upload-Expires"] = _expires(upload)
        return _tus_headers(response)

    @extend_schema(exclude=True)
    def get(self, request, upload_id):
        # tus has no GET; answer like HEAD would for the owner and 404 for anyone else.
        services.upload_head(actor=request.user, upload=self.scope)
        return _error(405, "Use HEAD to read an upload's offset and PATCH to send data.")

    @extend_schema(exclude=True)
    def patch(self, request, upload_id):
        self._require_tus(request)
        content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/offset+octet-stream":
            raise UploadError(415, "PATCH bodies must be sent as Content-Type: application/offset+octet-stream.")
        offset = _int_header(request, "Upload-Offset")
        if offset is None:
            raise UploadError(400, "Upload-Offset is required.")
        checksum = services.parse_checksum(request.headers.get("Upload-Checksum"))
        upload = services.upload_patch(
            actor=request.user,
            upload=self.scope,
            offset=offset,
            body=request._request,  # the raw stream: read in blocks, never loaded whole
            checksum=checksum,
            length=_int_header(request, "Upload-Length"),
        )
        response = HttpResponse(status=204)
        response["Upload-Offset"] = str(upload.offset)
        if upload.status == upload.Status.ACTIVE:
            response["Upload-Expires"] = _expires(upload)
        return _tus_headers(response)

    @extend_schema(exclude=True)
    def delete(self, request, upload_id):
        self._require_tus(request)
        services.upload_terminate(actor=request.user, upload=self.scope)
        return _tus_headers(HttpResponse(status=204))
