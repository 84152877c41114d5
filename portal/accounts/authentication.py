"""`Authorization: Bearer psp_...` API tokens (hashed at rest)."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import authentication, exceptions

from portal.accounts.credentials import SETUP, second_factor_missing
from portal.accounts.models import ApiToken


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if parts[0].lower() not in ("bearer", "token"):
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header: use “Bearer <token>”.")
        token = ApiToken.objects.select_related("user").filter(key_hash=ApiToken.hash(parts[1])).first()
        if token is None or not token.is_usable:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked API token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("This account is disabled.")
        # A token made before the studio required two-factor sign-in stops working until its owner
        # sets up an authenticator (a token stands for a session that passed the second factor).
        if second_factor_missing(token.user, verified=False) == SETUP:
            raise exceptions.AuthenticationFailed(
                "Your studio requires two-factor sign-in: set up an authenticator in the portal, then this token works again."
            )
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword
