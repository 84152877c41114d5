from django.conf import settings


def portal(request):
    context = {"PORTAL_EMBEDDED": settings.EMBEDDED, "PORTAL_PRODUCTION": settings.PRODUCTION}
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        from portal.review.models import Notification

        # Lazy: only pages that show the bell pay the one query.
        context["unread_notifications"] = lambda: Notification.objects.filter(user=user, read_at__isnull=True).count()
    return context
