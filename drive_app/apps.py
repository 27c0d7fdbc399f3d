from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class DriveAppConfig(AppConfig):
    """The drive product. Installed, routed and migrated only when `SUITE_APPS` names
    `drive`; it reaches the platform through `api_routers()` and `websocket_routes()`."""

    name = "drive_app"
    label = "drive_app"
    default_auto_field = "django.db.models.BigAutoField"

    def api_routers(self) -> list[tuple[str, Any, str]]:
        from drive_app.api import router

        return [("/drive/", router, "drive")]

    def websocket_routes(self) -> list[Any]:
        return []

    def http_mounts(self) -> list[tuple[str, Any]]:
        """WebDAV for desktop clients, served by WsgiDAV beside Django (drive_app.dav)."""
        from drive_app.dav import asgi_application

        return [("/dav", asgi_application)]

    def url_patterns(self) -> list[Any]:
        """The WOPI host (``/wopi/files/<id>``), called by office servers."""
        from drive_app.wopi.views import url_patterns

        return url_patterns()
