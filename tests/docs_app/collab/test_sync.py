"""``/ws/docs/<id>``: the y-websocket handshake, durable relay of edits, read-only sessions,
awareness, and refusals; through the real ASGI application, PostgreSQL and Redis."""

from __future__ import annotations

import asyncio

import pycrdt
import pytest

from docs_app.collab import protocol, storage
from docs_app.collab.rooms import registry
from docs_app.models import DocumentUpdate
from suite.access.roles import Role
from tests.docs_app.collab.conftest import YClient
from tests.docs_app.factories_sharing import grant, make_document
from tests.factories import UserFactory
from tests.suite.realtime.conftest import run_async

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_rooms")]


@pytest.fixture
def shared(ticket_for):
    """A document with an owner, an editor and a reader, and a ticket for each."""
    document = make_document(title="Minutes")
    people = {name: UserFactory() for name in ("owner", "editor", "reader", "stranger")}
    grant(document, Role.OWNER, user=people["owner"])
    grant(document, Role.EDITOR, user=people["editor"])
    grant(document, Role.READER, user=people["reader"])
    tickets = {name: ticket_for(user) for name, user in people.items()}
    return document, people, tickets


def stored_text(document_id) -> str:
    doc, _ = storage.load_doc(document_id)
    return str(doc.get("text", type=pycrdt.Text))


@run_async
async def test_handshake_answers_step1_with_step2_then_step1(shared):
    document, _, tickets = shared
    client = await YClient.open(document.pk, tickets["editor"], sync=False)
    await client.send(protocol.step1(b"\x00"))
    first, second = await client.receive(), await client.receive()
    assert first[:2] == bytes([protocol.MessageType.SYNC, protocol.SyncType.STEP2])
    assert second[:2] == bytes([protocol.MessageType.SYNC, protocol.SyncType.STEP1])
    await client.close()


@run_async
async def test_edit_is_stored_before_peers_see_it_and_late_joiner_gets_it(shared):
    document, _, tickets = shared
    alice = await YClient.open(document.pk, tickets["editor"])
    bob = await YClient.open(document.pk, tickets["owner"])

    await alice.type(0, "hello")
    await bob.wait_for_text("hello")
    # Bob saw it: it is in the log already.
    assert await _log_count(document.pk) >= 1
    assert await _stored_text(document.pk) == "hello"

    await bob.type(5, " world")
    await alice.wait_for_text("hello world")
    await alice.close()
    await bob.close()

    carol = await YClient.open(document.pk, tickets["reader"])
    assert str(carol.text) == "hello world"
    await carol.close()


@run_async
async def test_reader_update_is_refused_not_stored_not_relayed(shared):
    document, _, tickets = shared
    editor = await YClient.open(document.pk, tickets["editor"])
    reader = await YClient.open(document.pk, tickets["reader"])
    await editor.type(0, "base")
    await reader.wait_for_text("base")
    rows = await _log_count(document.pk)

    await reader.type(0, "evil ")
    await reader.drain()
    assert reader.denied and reader.denied[0].startswith("read-only")
    await editor.drain()
    assert str(editor.text) == "base"
    assert await _log_count(document.pk) == rows
    assert await _stored_text(document.pk) == "base"
    await editor.close()
    await reader.close()


@run_async
async def test_reader_empty_step2_is_not_denied(shared):
    document, _, tickets = shared
    reader = await YClient.open(document.pk, tickets["reader"])
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
    document, _, tickets = shared
    editor = await YClient.open(document.pk, tickets["editor"])
    await editor.type(0, "safe")
    other = await YClient.open(document.pk, tickets["owner"])
    bad = await YClient.open(document.pk, tickets["owner"])

    await bad.send(frame)
    assert await bad.expect_close() == (code, reason)

    await editor.type(4, "!")
    await other.wait_for_text("safe!")
    assert await _stored_text(document.pk) == "safe!"
    await editor.close()
    await other.close()


@run_async
async def test_text_frame_and_oversized_message_close(shared, settings):
    document, _, tickets = shared
    settings.DOCS_WS_MAX_MESSAGE_BYTES = 1024
    text = await YClient.open(document.pk, tickets["editor"])
    await text.send_text("hello")
    assert await text.expect_close() == (4400, "text_frames_not_supported")
    big = await YClient.open(document.pk, tickets["editor"])
    await big.type(0, "x" * 2000)
    assert await big.expect_close() == (4413, "message_too_large")
    assert await _log_count(document.pk) == 0


@run_async
async def test_stranger_and_unknown_document_get_4404(shared, ticket_for):
    document, _, tickets = shared
    stranger = await YClient.open(document.pk, tickets["stranger"], sync=False)
    assert await stranger.expect_close() == (4404, "not_found")
    missing = await YClient.open("00000000-0000-0000-0000-000000000000", tickets["owner"], sync=False)
    assert await missing.expect_close() == (4404, "not_found")
    garbage = await YClient.open("not-a-uuid", tickets["owner"], sync=False)
    assert await garbage.expect_close() == (4404, "not_found")


@run_async
async def test_room_loaded_during_a_refused_access_check_is_released(shared):
    # The room loads while access is checked; a refused socket must not keep it in memory.
    document, _, tickets = shared
    stranger = await YClient.open(document.pk, tickets["stranger"], sync=False)
    assert await stranger.expect_close() == (4404, "not_found")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while str(document.pk) in registry().rooms or str(document.pk) in registry()._starting:
        assert loop.time() < deadline, "the room stayed loaded after a refused connection"
        await asyncio.sleep(0.02)
    owner = await YClient.open(document.pk, tickets["owner"])  # and it loads again normally
    await owner.type(0, "ok")
    await owner.close()
    assert await _stored_text(document.pk) == "ok"


@pytest.fixture
def read_only_ticket(shared, ticket_for):
    return ticket_for(shared[1]["editor"], scopes=["realtime", "docs:read"])


@run_async
async def test_read_only_token_scope_gives_a_read_only_session(shared, read_only_ticket):
    document, _, _ = shared
    ticket = read_only_ticket
    client = await YClient.open(document.pk, ticket)
    await client.type(0, "nope")
    await client.drain()
    assert client.denied
    assert await _log_count(document.pk) == 0
    await client.close()


@run_async
async def test_awareness_relayed_and_removed_when_socket_closes(shared):
    document, _, tickets = shared
    alice = await YClient.open(document.pk, tickets["editor"])
    bob = await YClient.open(document.pk, tickets["reader"])
    entry = protocol.AwarenessEntry(client_id=424242, clock=1, state='{"user":{"name":"Alice"}}')
    await alice.send(protocol.encode_awareness([entry]))
    await bob.drain()
    assert [e.client_id for batch in bob.awareness for e in batch] == [424242]
    assert bob.awareness[-1][0].state == entry.state

    # A late joiner receives the current states.
    carol = await YClient.open(document.pk, tickets["owner"], sync=False)
    await carol.drain()
    assert any(e.client_id == 424242 for batch in carol.awareness for e in batch)

    await alice.close()
    await bob.drain()
    removal = bob.awareness[-1][0]
    assert (removal.client_id, removal.clock, removal.removed) == (424242, 2, True)
    await bob.close()
    await carol.close()


@run_async
async def test_a_socket_cannot_erase_another_clients_awareness(shared):
    document, _, tickets = shared
    alice = await YClient.open(document.pk, tickets["editor"])
    mallory = await YClient.open(document.pk, tickets["owner"])
    await alice.send(protocol.encode_awareness([protocol.AwarenessEntry(7, 1, '{"n":"a"}')]))
    await mallory.drain()
    await mallory.send(protocol.encode_awareness([protocol.AwarenessEntry(7, 9, "null")]))
    await alice.drain()
    assert all(e.client_id != 7 or not e.removed for batch in alice.awareness for e in batch)
    await alice.close()
    await mallory.close()


async def _log_count(document_id) -> int:
    from channels.db import database_sync_to_async

    return await database_sync_to_async(
        lambda: DocumentUpdate.objects.filter(document_id=document_id).count()
    )()


async def _stored_text(document_id) -> str:
    from channels.db import database_sync_to_async

    return await database_sync_to_async(stored_text)(document_id)
