"""No cache keeps a response unless the code that made it says it may.

Almost everything this server answers is computed for one person: their profile, their
lists, their tokens, a document their role lets them read, an error that tells them what
exists. Without ``Cache-Control`` a browser's or a proxy's cache may store such a response
heuristically and serve it again, after a logout, to the next person on a shared computer,
or after the access was revoked. So a response that does not set ``Cache-Control`` itself
leaves with ``private, no-store``. A handler that means to be cached says so explicitly
(static files through WhiteNoise do: ``max-age=..., public``) and is left alone, as are the
downloads, WOPI and logout responses that already set their own header.

The WebDAV application is mounted beside Django (``suite.mounts``) and does not pass here:
every DAV request carries ``Authorization``, which shared caches never answer from store
(RFC 9111, section 3.5).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

#: The header of a response that did not choose its own caching.
DEFAULT_CACHE_CONTROL = "private, no-store"


class NoStoreByDefaultMiddleware:
    """Adds ``Cache-Control: private, no-store`` to every response that has none."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            response["Cache-Control"] = DEFAULT_CACHE_CONTROL
        return response
