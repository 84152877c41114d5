"""Second factor: a signed-in user with an authenticator must pass it; a user whose studio
requires two-factor must set one up before anything else."""

from urllib.parse import urlencode

from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from portal.accounts.credentials import SETUP, VERIFY, second_factor_missing

EXEMPT_PREFIXES = ("/account/2fa/", "/account/sign-out/", "/static/", "/i18n/", "/healthz")


class TwoFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not request.path.startswith(EXEMPT_PREFIXES):
            missing = second_factor_missing(user, verified=user.is_verified())
            if missing:
                if request.path.startswith("/api/"):
                    # Session-authenticated API calls need the second factor too (tokens are checked
                    # in BearerTokenAuthentication by the same question).
                    return JsonResponse({"detail": "Complete two-factor sign-in first."}, status=403)
                if missing == VERIFY:
                    return redirect(f"{reverse('accounts:2fa_verify')}?{urlencode({'next': request.get_full_path()})}")
                if missing == SETUP:
                    return redirect(reverse("accounts:2fa_setup"))
        return self.get_response(request)
