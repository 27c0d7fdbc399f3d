"""HTTP applications that apps mount beside Django under a path prefix (WebDAV speaks its own
protocol and is served by a dedicated library, not by Django views).

An app config returns ``[(prefix, asgi_app)]`` from ``http_mounts()``; requests whose path is
the prefix or starts with it followed by ``/`` go to that application, everything else to
Django. Only apps enabled by ``SUITE_APPS`` are asked.
"""

from __future__ import annotations

from typing import Any


def app_mounts() -> list[tuple[str, Any]]:
    from django.apps import apps
    from django.conf import settings

    mounts: list[tuple[str, Any]] = []
    for module in settings.PRODUCT_MODULES:
        config = apps.get_app_config(module.rsplit(".", 1)[-1])
        mounts += getattr(config, "http_mounts", lambda: [])()
    return sorted(mounts, key=lambda mount: -len(mount[0]))


class MountedHTTP:
    """ASGI application dispatching HTTP requests by path prefix, Django by default."""

    def __init__(self, default: Any, mounts: list[tuple[str, Any]] | None = None):
        self.default = default
        self.mounts = [(prefix.rstrip("/"), app) for prefix, app in (app_mounts() if mounts is None else mounts)]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        for prefix, app in self.mounts:
            if path == prefix or path.startswith(prefix + "/"):
                await app(scope, receive, send)
                return
        await self.default(scope, receive, send)
