"""Websocket routes: the platform's, then each enabled app's ``websocket_routes()``, then a
catch-all that closes unknown paths with 4404.

An app config exposes its routes with a method returning Django ``path``/``re_path`` entries
(no leading slash), whose consumers subclass
:class:`~suite.realtime.consumers.AuthenticatedConsumer`::

    class DocsConfig(AppConfig):
        def websocket_routes(self):
            from docs_app.consumers import DocumentSyncConsumer
            return [re_path(r"^ws/docs/(?P<document_id>[0-9a-f-]{36})/?$",
                            DocumentSyncConsumer.as_asgi())]

Match both with and without the trailing slash (``/?$``): y-websocket's
``WebsocketProvider(url, room)`` connects to ``url/room`` without one. Authentication has
already happened (``scope["user"]``, see :mod:`suite.realtime.auth`); a ticket restricted to
``/ws/docs/<id>`` is accepted on both forms.
"""

from __future__ import annotations

from typing import Any

from django.urls import re_path


def websocket_urlpatterns() -> list[Any]:
    from django.apps import apps
    from django.conf import settings

    from suite.realtime.consumers import EventStreamConsumer, NotFoundConsumer

    patterns = [re_path(r"^ws/events/?$", EventStreamConsumer.as_asgi())]
    for module in settings.PRODUCT_MODULES:
        config = apps.get_app_config(module.rsplit(".", 1)[-1])
        patterns.extend(getattr(config, "websocket_routes", lambda: [])())
    patterns.append(re_path(r"", NotFoundConsumer.as_asgi()))
    return patterns
