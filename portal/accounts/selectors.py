from portal.accounts.models import ApiToken
from portal.core.prepared import PreparedQuery
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


def _second_factor_query(user_id):
    from django.contrib.auth import get_user_model
    from django.db.models import Exists, OuterRef
    from django_otp.plugins.otp_totp.models import TOTPDevice

    required = Studio.objects.filter(memberships__user=OuterRef("pk"), require_two_factor=True).exclude(
        status=Studio.Status.SUSPENDED
    )
    return (
        get_user_model()
        .objects.filter(pk=user_id)
        .annotate(has_totp=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)), required=Exists(required))
        .values_list("has_totp", "required")
        .order_by()[:1]
    )


# Asked on every signed-in request: built once (portal.core.prepared), read afresh each time.
_SECOND_FACTOR = PreparedQuery(_second_factor_query, int)


def second_factor_state(user) -> tuple[bool, bool]:
    """(has a confirmed authenticator, one of their active studios requires two-factor): one query,
    asked on every signed-in request that has not passed the second factor."""
    if not user.is_authenticated:
        return False, False
    row = _SECOND_FACTOR.first(user.pk)
    return (bool(row[0]), bool(row[1])) if row else (False, False)


def user_has_totp(user) -> bool:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def api_tokens(user):
    return ApiToken.objects.filter(user=user, revoked_at=None).order_by("-created_at")
