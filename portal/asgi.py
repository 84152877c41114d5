"""ASGI entry point: Django for HTTP, Channels for websockets."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup(set_prefix=False)  # what get_asgi_application() does; must run before anything touches models

from portal.core.asgi_handler import PortalASGIHandler  # noqa: E402

# Django's handler, with tus PATCH bodies streamed to the view instead of spooled (see the module).
django_asgi_app = PortalASGIHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from portal.core.checks import refuse_unsafe_production  # noqa: E402
from portal.live.routing import websocket_urlpatterns  # noqa: E402

refuse_unsafe_production()  # production does not start writing sign-in links to its output

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

if settings.CELERY_EMBEDDED_WORKER and os.environ.get("PORTAL_SERVER") == "1":
    from portal.celery import start_embedded_periodic, start_embedded_worker

    start_embedded_worker()
    start_embedded_periodic()
