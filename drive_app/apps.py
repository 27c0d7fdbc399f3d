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

    def url_patterns(self) -> list[Any]:
        """The WOPI host (``/wopi/files/<id>``), called by office servers."""
        from drive_app.wopi.views import url_patterns

        return url_patterns()
