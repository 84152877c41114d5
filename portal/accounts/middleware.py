"""Second factor: a signed-in user with an authenticator must pass it; a user whose studio
requires two-factor must set one up before anything else."""

from urllib.parse import urlencode

from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from portal.accounts.selectors import two_factor_required, user_has_totp

EXEMPT_PREFIXES = ("/account/2fa/", "/account/sign-out/", "/static/", "/i18n/", "/healthz")


class TwoFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not request.path.startswith(EXEMPT_PREFIXES):
            if not user.is_verified() and (user_has_totp(user) or two_factor_required(user)):
                if request.path.startswith("/api/"):
                    # Session-authenticated API calls need the second factor too (tokens do not:
                    # only a fully signed-in user can create one).
                    return JsonResponse({"detail": "Complete two-factor sign-in first."}, status=403)
                if user_has_totp(user):
                    return redirect(f"{reverse('accounts:2fa_verify')}?{urlencode({'next': request.get_full_path()})}")
                if two_factor_required(user):
                    return redirect(reverse("accounts:2fa_setup"))
        return self.get_response(request)
