"""ASGI entry point: HTTP through Django (and the apps' own mounted ASGI/WSGI applications,
such as WebDAV, see :mod:`suite.mounts`), websockets through Channels.

Run by ``suite serve`` (uvicorn), or by any ASGI server in production:
``uvicorn suite.asgi:application``.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "suite.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_application = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from suite.limits import RequestLimits  # noqa: E402
from suite.mounts import MountedHTTP  # noqa: E402
from suite.realtime.auth import TicketOrSessionAuthMiddleware  # noqa: E402
from suite.realtime.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": MountedHTTP(RequestLimits(django_application)),
        "websocket": TicketOrSessionAuthMiddleware(URLRouter(websocket_urlpatterns())),
    }
)
