from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class DocsAppConfig(AppConfig):
    """The documents product. Installed, routed and migrated only when ``SUITE_APPS`` names
    ``docs``; it reaches the platform through ``api_routers()`` and ``websocket_routes()``."""

    name = "docs_app"
    label = "docs_app"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from docs_app import signals  # noqa: F401  (invitations turn into accesses at login)
        from docs_app.collab import acl

        acl.subscribe()  # open editing sessions follow access changes

    def api_routers(self) -> list[tuple[str, Any, str]]:
        from docs_app.api import router

        return [("/documents/", router, "docs")]

    def websocket_routes(self) -> list[Any]:
        from django.urls import re_path

        from docs_app.collab.consumer import DocumentSyncConsumer

        # y-websocket's WebsocketProvider connects without the trailing slash.
        return [re_path(r"^ws/docs/(?P<document_id>[^/]+)/?$", DocumentSyncConsumer.as_asgi())]
