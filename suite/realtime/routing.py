"""Websocket routes: the platform's, then each enabled app's ``websocket_routes()``."""

from __future__ import annotations

from typing import Any

from django.urls import path


def websocket_urlpatterns() -> list[Any]:
    from django.apps import apps
    from django.conf import settings

    from suite.realtime.consumers import EventStreamConsumer

    patterns = [path("ws/events/", EventStreamConsumer.as_asgi())]
    for module in settings.PRODUCT_MODULES:
        config = apps.get_app_config(module.rsplit(".", 1)[-1])
        patterns.extend(getattr(config, "websocket_routes", lambda: [])())
    return patterns
