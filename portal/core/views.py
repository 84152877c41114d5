from celery.exceptions import TimeoutError as CeleryTimeout
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt

from portal.access.enforce import RoleDenied
from portal.accounts.selectors import user_studios
from portal.projects.selectors import projects_for_user
from portal.studios.selectors import studios_for_user


@login_required
def home(request):
    """One studio: straight to its dashboard. Otherwise a list (or why there is nothing)."""
    studios = list(studios_for_user(request.user))
    suspended = [s for s in user_studios(request.user) if s.is_suspended]
    if len(studios) == 1 and not suspended:
        return redirect("studios:dashboard", studio=studios[0].slug)
    return render(
        request,
        "home.html",
        {"studios": studios, "suspended": suspended, "projects": projects_for_user(request.user)},
    )


def healthz(request):
    """Liveness (database answers). With ?deep=1, also proves a Celery worker runs jobs."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    body = {"status": "ok", "mode": "embedded" if settings.EMBEDDED else "services"}
    if request.GET.get("deep") == "1":
        from portal.core.tasks import ping

        try:
            # The embedded worker shares this process, which makes Celery think we are inside a task.
            body["worker"] = ping.apply_async().get(timeout=10, disable_sync_subtasks=False)
        except CeleryTimeout:
            body.update(status="degraded", worker="no worker answered within 10 s")
            return JsonResponse(body, status=503)
    return JsonResponse(body)


def permission_denied(request, exception=None):
    """403 page: the refusal's own reason when it has one for the person; the role text for policy
    denials (portal.access.enforce.RoleDenied) and refusals without words."""
    reason = "" if exception is None or isinstance(exception, RoleDenied) else str(exception)
    return render(request, "403.html", {"exception": reason}, status=403)


@csrf_exempt  # it changes nothing, and an API client has no CSRF cookie: a 404, not a "form expired" page
def api_not_found(request, *args, **kwargs):
    """Any path under /api/v1/ that names no endpoint (an empty or malformed id, a typo): the API's
    own JSON 404, never an HTML page. Paths without the trailing slash still get Django's redirect."""
    response = JsonResponse({"detail": "Not found."}, status=404)
    response["X-Content-Type-Options"] = "nosniff"
    return response
