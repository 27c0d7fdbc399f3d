"""The WsgiDAV provider of the drive: DAV paths to resources, for the authenticated user."""

from __future__ import annotations

from typing import Any

from wsgidav.dav_provider import DAVProvider

from drive_app.dav import namespace
from drive_app.dav.resources import RootCollection, resource_for
from drive_app.dav.session import current_session, session_of
from drive_app.models import Item


class DriveDavProvider(DAVProvider):
    """One instance serves every request; what depends on the user lives in the request's
    :class:`~drive_app.dav.session.DavSession`."""

    def __repr__(self) -> str:
        return "DriveDavProvider"

    def is_readonly(self) -> bool:
        return False

    def get_resource_inst(self, path: str | None, environ: dict[str, Any]) -> Any:
        """The resource at ``path`` for this request's user, or None when it does not exist
        for them (missing and invisible are the same). ``path`` is None for the parent of
        ``/`` (WsgiDAV's ``get_uri_parent``): nothing."""
        if path is None:
            return None
        session = session_of(environ)
        key = "/" + "/".join(namespace.split_path(path))
        if key in session.resources:
            return session.resources[key]
        if key in session.folders:  # met on the way to a longer path of this request
            folder, dav_path = session.folders[key]
            return self.resource_for(folder, dav_path, environ)
        target, dav_path = namespace.resolve(session, key)
        resource: Any = None
        if target is namespace.ROOT:
            resource = RootCollection(environ)
        elif isinstance(target, Item):
            resource = self.resource_for(target, dav_path, environ)
        session.resources[key] = resource
        return resource

    def resource_for(self, item: Item, dav_path: str, environ: dict[str, Any]) -> Any:
        resource = resource_for(item, dav_path, environ)
        session_of(environ).resources.setdefault("/" + "/".join(namespace.split_path(dav_path)), resource)
        return resource

    def ref_url_to_path(self, ref_url: str) -> str:
        """The current user's DAV path of a canonical URL (lock roots): WsgiDAV uses it for
        ``DAV:lockroot`` and to find the root of a refreshed lock."""
        session = current_session()
        path = namespace.dav_path_of_ref(session, ref_url) if session is not None else None
        return path if path is not None else ref_url
