"""ASGI entry point: Django for HTTP, Channels for websockets."""

import asyncio
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

router = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
embedded_worker = bool(settings.CELERY_EMBEDDED_WORKER and os.environ.get("PORTAL_SERVER") == "1")


async def lifespan(receive, send) -> None:
    """The server's start and stop. On stop (Ctrl-C), the embedded worker is stopped while the process is
    still whole: a tool run in it goes back to the queue, instead of running on and failing against a
    closing interpreter with a traceback a second."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if embedded_worker:
                from portal.celery import stop_embedded

                await asyncio.to_thread(stop_embedded)
            await send({"type": "lifespan.shutdown.complete"})
            return


async def application(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    return await router(scope, receive, send)


if embedded_worker:
    from portal.celery import start_embedded_periodic, start_embedded_worker

    start_embedded_worker()
    start_embedded_periodic()
