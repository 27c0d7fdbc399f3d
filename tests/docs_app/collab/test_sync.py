"""``/ws/docs/<id>``: the y-websocket handshake, durable relay of edits, read-only sessions,
awareness, and refusals; through the real ASGI application, PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
from typing import Any, NamedTuple

import pycrdt
import pytest

from docs_app.collab import protocol, storage
from docs_app.collab.rooms import registry
from docs_app.models import Document, DocumentUpdate
from suite.access.roles import Role
from tests.docs_app.collab.conftest import YClient
from tests.docs_app.factories_sharing import grant, make_document
from tests.factories import UserFactory
from tests.suite.realtime.conftest import run_async

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_rooms")]


class Shared(NamedTuple):
    document: Document
    people: dict[str, Any]
    tickets: dict[str, str]


@pytest.fixture
def shared(ticket_for):
    """A document with an owner, an editor and a reader, and a ticket for each (and for a
    stranger)."""
    document = make_document(title="Minutes")
    people = {name: UserFactory() for name in ("owner", "editor", "reader", "stranger")}
    grant(document, Role.OWNER, user=people["owner"])
    grant(document, Role.EDITOR, user=people["editor"])
    grant(document, Role.READER, user=people["reader"])
    tickets = {name: ticket_for(user) for name, user in people.items()}
    return Shared(document, people, tickets)


def stored_text(document_id) -> str:
    doc, _ = storage.load_doc(document_id)
    return str(doc.get("text", type=pycrdt.Text))


async def connect(shared: Shared, *names: str, sync: bool = True) -> list[YClient]:
    """A client on the shared document for each of ``names``, opened in that order."""
    return [
        await YClient.open(shared.document.pk, shared.tickets[name], sync=sync) for name in names
    ]


async def close(*clients: YClient) -> None:
    for client in clients:
        await client.close()


async def relay(
    writer: YClient, index: int, text: str, *, to: YClient, now: str | None = None
) -> None:
    """``writer`` types ``text`` at ``index``; wait until ``to`` has the text ``now`` (default:
    ``text``)."""
    await writer.type(index, text)
    await to.wait_for_text(text if now is None else now)


@run_async
async def test_handshake_answers_step1_with_step2_then_step1(shared):
    (client,) = await connect(shared, "editor", sync=False)
    await client.send(protocol.step1(b"\x00"))
    first, second = await client.receive(), await client.receive()
    assert first[:2] == bytes([protocol.MessageType.SYNC, protocol.SyncType.STEP2])
    assert second[:2] == bytes([protocol.MessageType.SYNC, protocol.SyncType.STEP1])
    await client.close()


@run_async
async def test_edit_is_stored_before_peers_see_it_and_late_joiner_gets_it(shared):
    alice, bob = await connect(shared, "editor", "owner")

    await relay(alice, 0, "hello", to=bob)
    # Bob saw it: it is in the log already.
    assert await _log_count(shared.document.pk) >= 1
    assert await _stored_text(shared.document.pk) == "hello"

    await relay(bob, 5, " world", to=alice, now="hello world")
    await close(alice, bob)

    (carol,) = await connect(shared, "reader")
    assert str(carol.text) == "hello world"
    await carol.close()


@run_async
async def test_reader_update_is_refused_not_stored_not_relayed(shared):
    editor, reader = await connect(shared, "editor", "reader")
    await relay(editor, 0, "base", to=reader)
    rows = await _log_count(shared.document.pk)

    await reader.type(0, "evil ")
    await reader.drain()
    assert reader.denied and reader.denied[0].startswith("read-only")
    await editor.drain()
    assert str(editor.text) == "base"
    assert await _log_count(shared.document.pk) == rows
    assert await _stored_text(shared.document.pk) == "base"
    await close(editor, reader)


@run_async
async def test_reader_empty_step2_is_not_denied(shared):
    (reader,) = await connect(shared, "reader")
    await reader.drain()
    assert reader.denied == []
    await reader.close()


@pytest.mark.parametrize(
    ("frame", "code", "reason"),
    [
        (b"\x00\x00\x85", 4400, "truncated_varint"),
        (b"\x00\x02\x05ab", 4400, "truncated_payload"),
        (b"\x00\x02\x03\x01\x02\x03", 4400, "bad_update"),
        (b"\x07\x00", 4400, "unknown_message_type"),
        (b"\x00\x09\x00", 4400, "unknown_sync_type"),
        (b"\x00\x02\x00\x00", 4400, "trailing_bytes"),
        (b"\x01\x03\x01\x01\x01", 4400, "truncated_varint"),
        (b"\x01\x05\x01\x07\x01\x01{", 4400, "awareness_invalid_json"),
    ],
)
@run_async
async def test_malformed_frames_close_only_that_socket(shared, frame, code, reason):
    (editor,) = await connect(shared, "editor")
    await editor.type(0, "safe")
    other, bad = await connect(shared, "owner", "owner")

    await bad.send(frame)
    assert await bad.expect_close() == (code, reason)

    await relay(editor, 4, "!", to=other, now="safe!")
    assert await _stored_text(shared.document.pk) == "safe!"
    await close(editor, other)


@run_async
async def test_text_frame_and_oversized_message_close(shared, settings):
    settings.DOCS_WS_MAX_MESSAGE_BYTES = 1024
    (text,) = await connect(shared, "editor")
    await text.send_text("hello")
    assert await text.expect_close() == (4400, "text_frames_not_supported")
    (big,) = await connect(shared, "editor")
    await big.type(0, "x" * 2000)
    assert await big.expect_close() == (4413, "message_too_large")
    assert await _log_count(shared.document.pk) == 0


@run_async
async def test_stranger_and_unknown_document_get_4404(shared, ticket_for):
    (stranger,) = await connect(shared, "stranger", sync=False)
    assert await stranger.expect_close() == (4404, "not_found")
    missing = await YClient.open(
        "00000000-0000-0000-0000-000000000000", shared.tickets["owner"], sync=False
    )
    assert await missing.expect_close() == (4404, "not_found")
    garbage = await YClient.open("not-a-uuid", shared.tickets["owner"], sync=False)
    assert await garbage.expect_close() == (4404, "not_found")


@run_async
async def test_room_loaded_during_a_refused_access_check_is_released(shared):
    # The room loads while access is checked; a refused socket must not keep it in memory.
    (stranger,) = await connect(shared, "stranger", sync=False)
    assert await stranger.expect_close() == (4404, "not_found")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    room = str(shared.document.pk)
    while room in registry().rooms or room in registry()._starting:
        assert loop.time() < deadline, "the room stayed loaded after a refused connection"
        await asyncio.sleep(0.02)
    (owner,) = await connect(shared, "owner")  # and it loads again normally
    await owner.type(0, "ok")
    await owner.close()
    assert await _stored_text(shared.document.pk) == "ok"


@pytest.fixture
def read_only_ticket(shared, ticket_for):
    return ticket_for(shared[1]["editor"], scopes=["realtime", "docs:read"])


@run_async
async def test_read_only_token_scope_gives_a_read_only_session(shared, read_only_ticket):
    client = await YClient.open(shared.document.pk, read_only_ticket)
    await client.type(0, "nope")
    await client.drain()
    assert client.denied
    assert await _log_count(shared.document.pk) == 0
    await client.close()


@run_async
async def test_awareness_relayed_and_removed_when_socket_closes(shared):
    alice, bob = await connect(shared, "editor", "reader")
    entry = protocol.AwarenessEntry(client_id=424242, clock=1, state='{"user":{"name":"Alice"}}')
    await alice.send(protocol.encode_awareness([entry]))
    await bob.drain()
    assert [e.client_id for batch in bob.awareness for e in batch] == [424242]
    assert bob.awareness[-1][0].state == entry.state

    # A late joiner receives the current states.
    (carol,) = await connect(shared, "owner", sync=False)
    await carol.drain()
    assert any(e.client_id == 424242 for batch in carol.awareness for e in batch)

    await alice.close()
    await bob.drain()
    removal = bob.awareness[-1][0]
    assert (removal.client_id, removal.clock, removal.removed) == (424242, 2, True)
    await close(bob, carol)


@run_async
async def test_a_socket_cannot_erase_another_clients_awareness(shared):
    alice, mallory = await connect(shared, "editor", "owner")
    await alice.send(protocol.encode_awareness([protocol.AwarenessEntry(7, 1, '{"n":"a"}')]))
    await mallory.drain()
    await mallory.send(protocol.encode_awareness([protocol.AwarenessEntry(7, 9, "null")]))
    await alice.drain()
    assert all(e.client_id != 7 or not e.removed for batch in alice.awareness for e in batch)
    await close(alice, mallory)


async def _log_count(document_id) -> int:
    from channels.db import database_sync_to_async

    return await database_sync_to_async(
        lambda: DocumentUpdate.objects.filter(document_id=document_id).count()
    )()


async def _stored_text(document_id) -> str:
    from channels.db import database_sync_to_async

    return await database_sync_to_async(stored_text)(document_id)
