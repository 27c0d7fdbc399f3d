"""Property: whatever the interleaving of concurrent edits from several pycrdt documents,
once everything has gone through the server, every client and the stored state agree."""

from __future__ import annotations

import pycrdt
import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docs_app.collab import protocol, storage
from suite.access.roles import Role
from tests.docs_app.collab.conftest import YClient
from tests.docs_app.factories_sharing import grant, make_document
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_rooms")]

CLIENTS = 3
edit = st.tuples(
    st.integers(0, CLIENTS - 1),          # who edits
    st.floats(0, 1),                      # where (fraction of the current length)
    st.integers(0, 3),                    # how many characters to delete there
    st.text(alphabet="abcd ", max_size=4),  # what to insert (ASCII: indices = offsets)
)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(edits=st.lists(edit, min_size=1, max_size=25), order=st.randoms(use_true_random=False))
def test_random_interleavings_converge(ticket_for, edits, order):
    document = make_document(title="prop")
    user = UserFactory()
    grant(document, Role.EDITOR, user=user)
    ticket = ticket_for(user)
    async_to_sync(_run)(document.pk, ticket, edits, order)


async def _run(document_id, ticket, edits, order):
    clients = [await YClient.open(document_id, ticket) for _ in range(CLIENTS)]
    outgoing: list[tuple[int, bytes]] = []
    # Concurrent edits: each client edits its own copy without hearing the others.
    for who, where, delete, insert in edits:
        client = clients[who]
        before = client.doc.get_state()
        length = len(client.text)
        at = int(where * length)
        with client.doc.transaction():
            if delete and at < length:
                del client.text[at : min(length, at + delete)]
            if insert:
                client.text.insert(at, insert)
        update = client.doc.get_update(before)
        if update != protocol.EMPTY_UPDATE:
            outgoing.append((who, update))
    # Delivered to the server in a random interleaving (each client's own order kept).
    queues = {i: [u for who, u in outgoing if who == i] for i in range(CLIENTS)}
    while any(queues.values()):
        who = order.choice([i for i, q in queues.items() if q])
        await clients[who].send(protocol.update_message(queues[who].pop(0)))
    for client in clients:
        await client.drain(0.2)
    expected = await database_sync_to_async(_stored)(document_id)
    for client in clients:
        assert str(client.text) == expected
        await client.close()
    late = await YClient.open(document_id, ticket)
    assert str(late.text) == expected
    await late.close()


def _stored(document_id) -> str:
    doc, _ = storage.load_doc(document_id)
    return str(doc.get("text", type=pycrdt.Text))
