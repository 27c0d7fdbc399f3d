"""The HTTP protocol ``suite serve`` runs: uvicorn's httptools protocol, answering what it
refuses before the application in the uniform error shape.

uvicorn answers a request it cannot parse with a plain-text 400 ("Invalid HTTP request
received."), and httptools cannot parse a URL of 65,536 bytes or more at all (its URL parser
counts offsets in 16 bits), so a long query string never reached our own checks. Here the URL
is measured as it arrives: past ``HTTP_MAX_URL_BYTES`` the answer is 414 ``uri_too_long``;
any other unparsable request is 400 ``bad_request``; both as JSON, then the connection is
closed (as uvicorn does).
"""

from __future__ import annotations

from django.conf import settings
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from suite.errors import ErrorCode, error_response
from suite.limits import url_too_long_body

STATUS_LINES = {400: b"HTTP/1.1 400 Bad Request\r\n", 414: b"HTTP/1.1 414 URI Too Long\r\n"}


class _UrlTooLong(Exception):
    pass


class SuiteHttpToolsProtocol(HttpToolsProtocol):
    url_too_long = False

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > settings.HTTP_MAX_URL_BYTES:
            self.url_too_long = True
            raise _UrlTooLong  # httptools stops parsing; uvicorn then calls send_400_response

    def send_400_response(self, msg: str) -> None:
        if self.url_too_long:
            status, body = 414, url_too_long_body()
        else:
            # No request to negotiate a language from: the default language's message.
            status, body = 400, error_response(400, ErrorCode.BAD_REQUEST).content
        content = [STATUS_LINES[status]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend([
            b"content-type: application/json\r\n",
            b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
            b"connection: close\r\n",
            b"\r\n",
            body,
        ])
        self.transport.write(b"".join(content))
        self.transport.close()
