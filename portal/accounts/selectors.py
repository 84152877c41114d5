from portal.accounts.models import ApiToken
from portal.studios.models import Studio


def user_studios(user):
    """Studios the user belongs to (suspended ones included, so the page can say so)."""
    if not user.is_authenticated:
        return Studio.objects.none()
    return Studio.objects.filter(memberships__user=user).order_by("name")


def two_factor_required(user) -> bool:
    if not user.is_authenticated:
        return False
    return Studio.objects.filter(memberships__user=user, require_two_factor=True).exclude(status=Studio.Status.SUSPENDED).exists()


def user_has_totp(user) -> bool:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def api_tokens(user):
    return ApiToken.objects.filter(user=user, revoked_at=None).order_by("-created_at")
