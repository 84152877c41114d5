"""Sign-in, sign-out, two-factor and API tokens: each writes its own audit rows."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model, login, logout
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.accounts.models import ApiToken
from portal.audit.services import record
from portal.studios.models import Studio

User = get_user_model()


def _record_for_user(*, action: str, user=None, email: str = "", details: dict | None = None) -> None:
    """Account events go to the chain of every studio the person belongs to, so each studio
    admin sees their own people's sign-ins; unknown addresses go to the platform chain."""
    studios = list(Studio.objects.filter(memberships__user=user)) if user is not None else []
    actor = user if user is not None else None
    if not studios:
        record(action=action, actor=actor, actor_email=email, details=details)
    for studio in studios:
        record(action=action, actor=actor, actor_email=email, studio=studio, details=details)


class SignInResult:
    OK = "ok"
    BAD_CREDENTIALS = "bad_credentials"
    LOCKED = "locked"
    INACTIVE = "inactive"


def session_sign_in(*, request, email: str, password: str) -> tuple[str, object | None]:
    """Check the password (through django-axes, which counts failures and locks) and sign in."""
    email = (email or "").strip().lower()
    user = authenticate(request, username=email, password=password)
    known = User.objects.filter(email__iexact=email).first()
    if user is None:
        if getattr(request, "axes_locked_out", False):
            _record_for_user(action="auth.locked_out", user=known, email=email, details={"email": email})
            return SignInResult.LOCKED, None
        if known is not None and not known.is_active and known.check_password(password):
            _record_for_user(
                action="auth.sign_in_failed", user=known, email=email, details={"email": email, "reason": "inactive"}
            )
            return SignInResult.INACTIVE, None
        _record_for_user(
            action="auth.sign_in_failed", user=known, email=email, details={"email": email, "reason": "bad credentials"}
        )
        return SignInResult.BAD_CREDENTIALS, None
    login(request, user)
    _record_for_user(action="auth.sign_in", user=user, details={"method": "password"})
    return SignInResult.OK, user


def session_sign_out(*, request) -> None:
    from portal.live.services import user_sockets_recheck_on_commit

    user = request.user
    if user.is_authenticated:
        _record_for_user(action="auth.sign_out", user=user)
    logout(request)
    if user.is_authenticated:
        user_sockets_recheck_on_commit(user.pk)  # after the session is gone: the open sockets close


def password_reset_requested(*, email: str) -> None:
    user = User.objects.filter(email__iexact=(email or "").strip()).first()
    _record_for_user(action="auth.password_reset_requested", user=user, email=email, details={"email": email})


def password_changed(*, user, via: str) -> None:
    _record_for_user(action="auth.password_changed", user=user, details={"via": via})
    if via == "reset":
        # Whoever completed a reset controls the mailbox: the account's lockout is lifted
        # (a lock on the address the attempts came from stays).
        from axes.utils import reset as axes_reset

        if axes_reset(username=user.email):
            _record_for_user(action="auth.lockout_lifted", user=user, details={"via": "password reset"})


# --- two-factor --------------------------------------------------------------------------------


def totp_device_start(*, user) -> TOTPDevice:
    """A fresh, unconfirmed authenticator for the user to scan; replaces any earlier unconfirmed one."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


def totp_device_confirm(*, request, device: TOTPDevice, token: str) -> list[str]:
    """Confirm the device with a first code; return one-time backup codes (shown once)."""
    token = (token or "").replace(" ", "")
    if not device.verify_token(token):
        raise ValidationError({"token": "That code is not right. Check the time on your phone and try the current code."})
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=device.user).exclude(pk=device.pk).delete()
        StaticDevice.objects.filter(user=device.user).delete()
        backup = StaticDevice.objects.create(user=device.user, name="Backup codes", confirmed=True)
        codes = [StaticToken.random_token() for _ in range(8)]
        for code in codes:
            backup.token_set.create(token=backup_code_digest(code))
        _record_for_user(action="auth.2fa_enabled", user=device.user)
    otp_login(request, device)
    return codes


def backup_code_digest(code: str) -> str:
    """What is stored for a backup code: a keyed digest (HMAC-SHA256 with a key derived from SECRET_KEY,
    64 bits kept to fit django-otp's 16-character column), so the database alone does not give the
    codes away; a code is checked by its digest."""
    key = hashlib.sha256(b"portal.backup-codes\0" + settings.SECRET_KEY.encode()).digest()
    return hmac.new(key, code.strip().lower().encode(), hashlib.sha256).hexdigest()[:16]


def two_factor_verify(*, request, token: str) -> bool:
    user = request.user
    token = (token or "").replace(" ", "")
    for device in list(TOTPDevice.objects.filter(user=user, confirmed=True)) + list(
        StaticDevice.objects.filter(user=user, confirmed=True)
    ):
        if device.verify_token(backup_code_digest(token) if isinstance(device, StaticDevice) else token):
            otp_login(request, device)
            _record_for_user(action="auth.2fa_verified", user=user, details={"device": device.persistent_id.split("/")[0]})
            return True
    _record_for_user(action="auth.2fa_failed", user=user)
    return False


def two_factor_disable(*, user) -> None:
    from portal.accounts.selectors import two_factor_required

    if two_factor_required(user):
        raise ValidationError("Your studio requires two-factor sign-in, so it cannot be turned off.")
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        _record_for_user(action="auth.2fa_disabled", user=user)


# --- API tokens --------------------------------------------------------------------------------


def api_token_create(*, user, name: str, expires_in_days: int | None = 90) -> tuple[ApiToken, str]:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the token a name, such as the script that will use it."})
    if expires_in_days is not None and not (1 <= int(expires_in_days) <= 365):
        raise ValidationError({"expires_in_days": "A token lives between 1 and 365 days."})
    raw, key_hash = ApiToken.generate()
    with transaction.atomic():
        token = ApiToken(
            user=user,
            name=name[:100],
            key_hash=key_hash,
            hint=raw[:10],
            expires_at=timezone.now() + timedelta(days=int(expires_in_days)) if expires_in_days else None,
        )
        token.full_clean()
        token.save()
        _record_for_user(action="token.create", user=user, details={"name": token.name, "hint": token.hint})
    return token, raw


def api_token_revoke(*, user, token: ApiToken) -> None:
    if token.user_id != user.pk:
        raise ValidationError("That token is not yours.")
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at:
            return
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        _record_for_user(action="token.revoke", user=user, details={"name": token.name, "hint": token.hint})
