"""Blob bytes streamed in responses: the Range header's reading (RFC 9110 14) and the
asynchronous body used under ASGI."""

from __future__ import annotations

import threading

import pytest
from asgiref.sync import async_to_sync

from suite.storage import BlobRangeNotSatisfiable
from suite.storage.responses import ThreadedChunks, requested_range


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-9", (0, 9)),
        ("bytes=10-", (10, 99)),
        ("bytes=90-1000", (90, 99)),  # an end past the body is clipped
        ("bytes=-10", (90, 99)),
        ("bytes=-1000", (0, 99)),
        (" bytes=5-6 ", (5, 6)),
        ("bytes=0-1,5-6", None),  # several ranges: the whole body
        ("bytes=9-3", None),  # invalid: ignored
        ("bytes=a-b", None),
        ("items=0-9", None),
        ("bytes=" + "9" * 30 + "-", None),  # not a number we read
    ],
)
def test_requested_range(header, expected):
    assert requested_range(header, size=100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=500-600", "bytes=-0"])
def test_requested_range_not_satisfiable(header):
    with pytest.raises(BlobRangeNotSatisfiable) as refused:
        requested_range(header, size=100)
    assert refused.value.status == 416 and refused.value.headers == {"Content-Range": "bytes */100"}


def test_requested_range_if_range_and_empty_body():
    assert requested_range("bytes=0-9", size=100, etag='"v1"', if_range='"v1"') == (0, 9)
    assert requested_range("bytes=0-9", size=100, etag='"v1"', if_range='"v2"') is None
    assert requested_range("bytes=0-9", size=100, etag=None, if_range='"v1"') is None
    assert requested_range("bytes=0-9", size=0) is None


def test_closing_while_a_chunk_is_read_waits_for_it():
    """The client went away while a chunk was being read: the source is closed once that
    read is over, never under it (a running generator cannot be closed)."""
    reading, proceed = threading.Event(), threading.Event()
    closed: list[bool] = []

    def chunks():
        try:
            reading.set()
            proceed.wait(5)
            yield b"first"
            yield b"second"
        finally:
            closed.append(True)

    body = ThreadedChunks(chunks())
    received: list[bytes] = []

    async def one_chunk() -> None:
        received.append(await body.__anext__())

    reader = threading.Thread(target=async_to_sync(one_chunk))
    reader.start()
    assert reading.wait(5)
    closer = threading.Thread(target=body.close)
    closer.start()
    closer.join(0.3)
    assert closer.is_alive(), "close() did not wait for the chunk being read"
    proceed.set()
    reader.join(5)
    closer.join(5)
    assert received == [b"first"] and closed == [True]


def test_a_closed_body_ends():
    body = ThreadedChunks(iter([b"a", b"b"]))

    async def collect() -> list[bytes]:
        return [chunk async for chunk in body]

    body.close()
    assert async_to_sync(collect)() == []
