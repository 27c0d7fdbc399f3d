"""One HTTP request through Django's ASGI handler, as ``uvicorn suite.asgi`` serves it, for
the tests that check what only the ASGI path does (streaming bodies)."""

from __future__ import annotations

import asyncio

from asgiref.sync import async_to_sync
from django.core.handlers.asgi import ASGIHandler


def asgi_get(path: str, headers: dict[str, str]) -> list[dict]:
    """GET ``path`` (with its query string, if any) and ``headers``; the ASGI messages the
    handler sent, in order."""
    path, _sep, query = path.partition("?")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
        "headers": [(b"host", b"testserver"), *((k.encode(), v.encode()) for k, v in headers.items())],
        "client": ("127.0.0.1", 40000), "server": ("testserver", 80),
    }
    sent: list[dict] = []

    async def run() -> None:
        done = asyncio.Event()
        requested = False

        async def receive() -> dict:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await done.wait()  # the client stays until the whole body is sent
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            sent.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                done.set()

        await ASGIHandler()(scope, receive, send)

    async_to_sync(run)()
    return sent


def body_chunks(messages: list[dict]) -> list[bytes]:
    """The non-empty body parts of a response's messages."""
    return [message["body"] for message in messages[1:] if message.get("body")]
