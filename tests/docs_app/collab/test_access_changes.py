"""Open editing sessions follow access changes within a second: revoked → closed,
downgraded → read-only, upgraded → writable, trashed → closed; through the real services
(REST API), their after-commit events, the channel layer (Redis) and the rooms."""

from __future__ import annotations

import time

import pytest
from channels.db import database_sync_to_async

from docs_app.models import DocumentAccess
from suite.access.roles import Role
from tests.docs_app.collab.conftest import API, YClient
from tests.docs_app.factories_sharing import grant, make_document
from tests.factories import TeamFactory, TeamMembershipFactory, UserFactory
from tests.suite.realtime.conftest import run_async

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_rooms")]


@pytest.fixture
def setup(ticket_for):
    parent = make_document(title="Folder")
    document = make_document(parent=parent, title="Page")
    owner, editor, member = UserFactory(), UserFactory(), UserFactory()
    team = TeamFactory()
    TeamMembershipFactory(team=team, user=member)
    grant(parent, Role.OWNER, user=owner)
    access = grant(parent, Role.EDITOR, user=editor)  # inherited by the page
    grant(document, Role.EDITOR, team=team)
    return {
        "parent": parent, "document": document, "owner": owner, "editor": editor,
        "member": member, "team": team, "access": access,
        "ticket": ticket_for(editor), "member_ticket": ticket_for(member),
    }


def _call(api, user, method, path, json=None):
    client = api(user)
    response = getattr(client, method)(path, json=json) if json is not None else getattr(client, method)(path)
    assert response.status_code < 300, response.content
    return response


async def within_a_second(client: YClient) -> tuple[int, str]:
    started = time.monotonic()
    closed = await client.expect_close(timeout=1.0)
    assert time.monotonic() - started < 1.0
    return closed


@run_async
async def test_revoking_an_inherited_access_closes_the_session(api, setup):
    client = await YClient.open(setup["document"].pk, setup["ticket"])
    await database_sync_to_async(_call)(
        api, setup["owner"], "delete", f"{API}/{setup['parent'].pk}/accesses/{setup['access'].pk}"
    )
    assert await within_a_second(client) == (4403, "access_revoked")


@run_async
async def test_downgrade_makes_the_session_read_only_then_upgrade_restores_it(api, setup):
    client = await YClient.open(setup["document"].pk, setup["ticket"])
    url = f"{API}/{setup['parent'].pk}/accesses/{setup['access'].pk}"
    await database_sync_to_async(_call)(api, setup["owner"], "patch", url, {"role": "reader"})
    await client.drain(0.5)
    assert client.denied, "the client is told it became read-only"
    client.denied.clear()
    await client.type(0, "refused")
    await client.drain()
    assert client.denied
    assert await _rows(setup["document"].pk) == 0

    await database_sync_to_async(_call)(api, setup["owner"], "patch", url, {"role": "editor"})
    await client.drain(0.5)
    await client.type(0, "ok ")
    await client.drain()
    assert await _rows(setup["document"].pk) == 1
    await client.close()


@run_async
async def test_trashing_an_ancestor_closes_the_session(api, setup):
    client = await YClient.open(setup["document"].pk, setup["ticket"])
    await database_sync_to_async(_call)(api, setup["owner"], "delete", f"{API}/{setup['parent'].pk}")
    assert await within_a_second(client) == (4404, "document_deleted")


@run_async
async def test_leaving_the_team_closes_the_member_session(setup):
    client = await YClient.open(setup["document"].pk, setup["member_ticket"])
    await database_sync_to_async(
        lambda: setup["team"].memberships.filter(user=setup["member"]).delete()
    )()
    assert await within_a_second(client) == (4403, "access_revoked")


@run_async
async def test_deactivating_the_account_closes_its_sessions(setup):
    client = await YClient.open(setup["document"].pk, setup["ticket"])

    def deactivate():
        setup["editor"].is_active = False
        setup["editor"].save(update_fields=["is_active"])

    await database_sync_to_async(deactivate)()
    # Not a change of role: the account's credentials ended (get a new one after sign-in).
    assert await within_a_second(client) == (4401, "user_inactive")


@run_async
async def test_link_reach_change_closes_a_link_only_session(api, setup, settings):
    stranger = await database_sync_to_async(UserFactory)()
    await database_sync_to_async(_call)(
        api, setup["owner"], "patch", f"{API}/{setup['parent'].pk}",
        {"link_reach": "authenticated", "link_role": "editor"},
    )
    ticket = await database_sync_to_async(_ticket)(api, stranger)
    client = await YClient.open(setup["document"].pk, ticket)
    await client.type(0, "via link ")
    await client.drain()
    assert not client.denied
    await database_sync_to_async(_call)(
        api, setup["owner"], "patch", f"{API}/{setup['parent'].pk}", {"link_reach": "restricted"}
    )
    assert await within_a_second(client) == (4403, "access_revoked")


def _ticket(api, user):
    response = api(user).post("/api/v1/realtime/tickets", json={})
    assert response.status_code == 201
    return response.json()["ticket"]


async def _rows(document_id) -> int:
    from docs_app.models import DocumentUpdate

    return await database_sync_to_async(
        lambda: DocumentUpdate.objects.filter(document_id=document_id).count()
    )()


def test_grant_model_is_what_the_api_changes(setup):
    # Guard for the fixtures above: the editor's access is on the parent (inherited).
    assert DocumentAccess.objects.get(pk=setup["access"].pk).resource_id == setup["parent"].pk


@run_async
async def test_revoking_the_token_closes_the_editing_session(setup):
    from suite.identity.tokens import token_create, token_revoke
    from tests.docs_app.collab.test_revocation_race import _ticket

    def mint():
        from django.test import Client

        token, raw = token_create(actor=None, user=setup["editor"], name="editor")
        return token, _ticket(Client(), raw)

    token, ticket = await database_sync_to_async(mint)()
    client = await YClient.open(setup["document"].pk, ticket)
    await database_sync_to_async(token_revoke)(actor=None, token_id=token.pk)
    assert await within_a_second(client) == (4401, "token_revoked")
