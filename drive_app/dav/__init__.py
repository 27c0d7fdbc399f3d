"""WebDAV (RFC 4918, classes 1 and 2) at ``/dav/`` for desktop clients, over the drive's
items, access rules and storage.

Built on WsgiDAV (a maintained WebDAV server library, litmus-tested) with our own provider
(``provider``, ``resources``, ``namespace``), lock storage in PostgreSQL (``locks``), dead
properties in PostgreSQL (``properties``), Basic authentication with app passwords
(``auth``), ``DAV:error`` bodies (``errors``), bad input refused before WsgiDAV reads it
(``validation``) and byte ranges by RFC 9110 (``ranges``); served through a2wsgi (``app``).
Decision record: docs/decisions/0013-webdav.md.
"""

from drive_app.dav.app import asgi_application, build_wsgi_application

__all__ = ["asgi_application", "build_wsgi_application"]
