from django.conf import settings

from portal.core.prepared import PreparedQuery


def _unread_notifications_query(user_id):
    from django.db.models import Count

    from portal.review.models import Notification

    unread = Notification.objects.filter(user_id=user_id, read_at__isnull=True).order_by()
    return unread.values("user_id").annotate(unread=Count("pk")).values_list("unread")


# Every page with the bell asks it: built once (portal.core.prepared), read afresh each time.
_UNREAD_NOTIFICATIONS = PreparedQuery(_unread_notifications_query, int)


def unread_notifications(user) -> int:
    row = _UNREAD_NOTIFICATIONS.first(user.pk)
    return row[0] if row else 0


def portal(request):
    context = {"PORTAL_EMBEDDED": settings.EMBEDDED, "PORTAL_PRODUCTION": settings.PRODUCTION}
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        # Lazy: only pages that show the bell pay the one query.
        context["unread_notifications"] = lambda: unread_notifications(user)
    return context
