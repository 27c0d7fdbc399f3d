from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class ChatAppConfig(AppConfig):
    """The chat product. Installed, routed and migrated only when `SUITE_APPS` names
    `chat`; it reaches the platform through `api_routers()` and `websocket_routes()`."""

    name = "chat_app"
    label = "chat_app"
    default_auto_field = "django.db.models.BigAutoField"

    def api_routers(self) -> list[tuple[str, Any, str]]:
        return []

    def websocket_routes(self) -> list[Any]:
        return []
