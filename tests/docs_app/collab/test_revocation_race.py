"""When the API answers that access or a credential is gone, no later update through an
open editing session is stored (suite.access.epoch): a client keeps typing as fast as it
can while access is revoked, downgraded, or its token revoked; every row of the log must
have been committed before the API answered."""

from __future__ import annotations

import asyncio
import functools
import threading

import pytest
from channels.db import database_sync_to_async

from docs_app.collab.rooms import room as room_module
from docs_app.models import DocumentUpdate
from suite.access.roles import Role
from suite.identity.tokens import token_create, token_revoke
from tests.docs_app.collab.conftest import API, YClient
from tests.docs_app.factories_sharing import grant, make_document
from tests.factories import UserFactory
from tests.suite.realtime.conftest import TICKETS_URL, run_async

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_rooms")]

TRIALS = 4


def _last_row(document_id) -> int:
    return DocumentUpdate.objects.filter(document_id=document_id).order_by("-id").values_list(
        "id", flat=True
    ).first() or 0


async def _type_until_stopped(client: YClient, stop: asyncio.Event) -> int:
    sent = 0
    while not stop.is_set():
        try:
            await client.type(0, "x")
        except Exception:  # the server closed the socket
            break
        sent += 1
        await asyncio.sleep(0.002)
    return sent


async def _race(client: YClient, document_id, revoke) -> tuple[int, int]:
    """Type while ``revoke`` (sync, returns once the API answered) runs; the last row
    committed when the answer came, and the last row after everything settled."""
    stop = asyncio.Event()
    writer = asyncio.ensure_future(_type_until_stopped(client, stop))
    await asyncio.sleep(0.15)  # rows are being stored

    def revoke_then_mark() -> int:
        revoke()
        return _last_row(document_id)

    at_answer = await database_sync_to_async(revoke_then_mark, thread_sensitive=False)()
    await asyncio.sleep(0.4)
    stop.set()
    await writer
    await client.drain(0.3)
    return at_answer, await database_sync_to_async(_last_row)(document_id)


def _ticket(client, raw: str) -> str:
    response = client.post(TICKETS_URL, data={}, content_type="application/json",
                           headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 201, response.content
    return response.json()["ticket"]


def _api_call(client, user_token: str, method: str, path: str, json=None):
    kwargs = {"headers": {"Authorization": f"Bearer {user_token}"}}
    if json is not None:
        kwargs.update(data=json, content_type="application/json")
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code < 300, response.content
    return response


@pytest.mark.parametrize("change", ["revoke_access", "downgrade_to_reader", "revoke_token"])
@run_async
async def test_no_update_is_stored_after_the_api_answered(client, change, settings):
    # No compaction while the test counts rows (an unloading room compacts its log).
    settings.DOCS_UNLOAD_AFTER_SECONDS = 30
    for _trial in range(TRIALS):
        def prepare():
            document = make_document(title="Race")
            owner, editor = UserFactory(), UserFactory()
            grant(document, Role.OWNER, user=owner)
            access = grant(document, Role.EDITOR, user=editor)
            token, raw = token_create(actor=None, user=editor, name="editor")
            owner_raw = token_create(actor=None, user=owner, name="owner")[1]
            return document, access, token, raw, owner_raw

        document, access, token, raw, owner_raw = await database_sync_to_async(prepare)()
        ticket = await database_sync_to_async(_ticket)(client, raw)
        yclient = await YClient.open(document.pk, ticket)
        url = f"{API}/{document.pk}/accesses/{access.pk}"
        revoke = {
            "revoke_access": functools.partial(_api_call, client, owner_raw, "delete", url),
            "downgrade_to_reader": functools.partial(
                _api_call, client, owner_raw, "patch", url, {"role": "reader"}
            ),
            "revoke_token": functools.partial(token_revoke, actor=None, token_id=token.pk),
        }[change]
        at_answer, settled = await _race(yclient, document.pk, revoke)
        assert at_answer > 0, "the client was writing when access changed"
        assert settled == at_answer, f"{change}: an update was stored after the answer"
        await yclient.close()


@run_async
async def test_an_update_waiting_for_its_flush_is_not_stored_after_the_answer(client, monkeypatch, settings):
    """The flush that will store an update starts late (a busy thread pool); meanwhile
    access is revoked, answered, and the session re-checked at the new epoch. The update was
    accepted under the old epoch, so it is checked again: not stored."""
    settings.DOCS_UNLOAD_AFTER_SECONDS = 30  # no compaction at unload: keep the rows to count

    def prepare():
        document = make_document(title="Late flush")
        owner, editor = UserFactory(), UserFactory()
        grant(document, Role.OWNER, user=owner)
        access = grant(document, Role.EDITOR, user=editor)
        raw = token_create(actor=None, user=editor, name="editor")[1]
        owner_raw = token_create(actor=None, user=owner, name="owner")[1]
        return document, access, raw, owner_raw

    document, access, raw, owner_raw = await database_sync_to_async(prepare)()
    yclient = await YClient.open(document.pk, await database_sync_to_async(_ticket)(client, raw))
    gate = threading.Event()
    take_epoch = room_module.session_write_epoch

    def late_epoch():
        gate.wait(10)
        return take_epoch()

    monkeypatch.setattr(room_module, "session_write_epoch", late_epoch)
    await yclient.type(0, "x")  # accepted: the editor may write
    await asyncio.sleep(0.2)

    def revoke_then_mark() -> int:
        _api_call(client, owner_raw, "delete", f"{API}/{document.pk}/accesses/{access.pk}")
        return _last_row(document.pk)

    at_answer = await database_sync_to_async(revoke_then_mark, thread_sensitive=False)()
    assert await yclient.expect_close(5) == (4403, "access_revoked")
    gate.set()
    await asyncio.sleep(1.0)
    assert await database_sync_to_async(_last_row)(document.pk) == at_answer == 0
