from django.conf import settings

from portal.access.policy import roles_cached_for_this_request
from portal.core import request_context


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = request_context.set_current(request_context.from_meta(request.META))
        try:
            with roles_cached_for_this_request():
                return self.get_response(request)
        finally:
            request_context.reset(token)


def content_security_policy() -> str:
    """Scripts only from the portal itself (its own and the vendored Uppy, Pico): no inline script, no
    eval, no other origin. Media and pictures also from object storage (signed URLs) when configured,
    and from blob: (subtitle tracks and upload thumbnails the pages make). Styles allow inline
    attributes, which the vendored uploader sets."""
    media = " ".join(["'self'", "blob:", *settings.CSP_STORAGE_ORIGINS])
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            f"img-src {media} data:",
            f"media-src {media}",
            "connect-src 'self'",
            "worker-src 'self' blob:",  # the API reference (ReDoc) searches in a worker it makes
            "font-src 'self' data:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = content_security_policy()

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.policy
        return response
