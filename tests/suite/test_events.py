"""Platform events: after-commit delivery, isolation of subscribers, Celery subscribers,
the registry, and the JSON shape of every access event."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
import uuid
from typing import ClassVar, get_args

import pytest
from celery.signals import task_prerun
from django.db import transaction

from suite import events
from suite.access.events import (
    AccessChanged,
    AccessGranted,
    AccessRevoked,
    LinkChanged,
    LinkReachValue,
    RoleSlug,
)
from suite.access.grants import access_grant
from suite.access.roles import LinkReach, Role
from suite.events import PlatformEvent, deliver, publish, register, subscribe, unsubscribe
from tests.factories import FolderAccessFactory, FolderFactory, UserFactory

ACTOR = uuid.UUID("6a0c1f0e-31c5-4f8e-9d55-2d7b5cdb6a01")
PRINCIPAL = uuid.UUID("2f4e8c53-0d0b-4a59-8f0e-5c1b7b0c9e02")
EVENT_ID = uuid.UUID("0e9d5a43-7b4f-4a11-b2a3-9a5a2b6c7d03")
OCCURRED_AT = dt.datetime(2025, 3, 14, 9, 26, 53, 589000, tzinfo=dt.UTC)
COMMON = {"event_id": EVENT_ID, "occurred_at": OCCURRED_AT, "actor_id": ACTOR}
COMMON_JSON = {
    "event_id": str(EVENT_ID),
    "occurred_at": "2025-03-14T09:26:53.589000Z",
    "actor_id": str(ACTOR),
}

received: list[PlatformEvent] = []  # what the dotted-path subscribers below were given


def record(event: PlatformEvent) -> None:
    received.append(event)


def record_in_task(event: PlatformEvent) -> None:
    received.append(event)


def fail(event: PlatformEvent) -> None:
    raise RuntimeError("subscriber bug")


def _granted(**overrides) -> AccessGranted:
    values = {
        "actor_id": ACTOR,
        "resource_type": "docs_app.document",
        "resource_id": "42",
        "principal_type": "user",
        "principal_id": PRINCIPAL,
        "role": "editor",
        **overrides,
    }
    return AccessGranted(**values)


@pytest.fixture
def subscriptions():
    """Subscribe for one test; every subscription is removed afterwards."""
    added: list[tuple[str, object]] = []

    def add(name, handler, *, in_task=False):
        subscribe(name, handler, in_task=in_task)
        added.append((name, handler))

    received.clear()
    yield add
    for name, handler in added:
        unsubscribe(name, handler)
    received.clear()


@pytest.fixture
def registry():
    """Events registered by a test are forgotten afterwards."""
    saved = dict(events._registry)
    yield
    events._registry.clear()
    events._registry.update(saved)


# --- after-commit delivery -------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_delivered_only_after_commit(subscriptions):
    subscriptions("access.granted", record)
    event = _granted()
    with transaction.atomic():
        publish(event)
        assert received == []
    assert received == [event]
    assert received[0] is event  # in-process subscribers get the published object


@pytest.mark.django_db(transaction=True)
def test_not_delivered_after_rollback(subscriptions):
    subscriptions("access.granted", record)
    with pytest.raises(RuntimeError), transaction.atomic():
        publish(_granted())
        raise RuntimeError("the service failed after publishing")
    assert received == []


@pytest.mark.django_db(transaction=True)
def test_not_delivered_from_rolled_back_savepoint(subscriptions):
    subscriptions("access.granted", record)
    kept, discarded = _granted(resource_id="1"), _granted(resource_id="2")
    with transaction.atomic():
        publish(kept)
        try:
            with transaction.atomic():
                publish(discarded)
                raise ValueError
        except ValueError:
            pass
    assert received == [kept]


@pytest.mark.django_db(transaction=True)
def test_delivered_at_once_without_transaction(subscriptions):
    subscriptions("access.granted", record)
    event = _granted()
    publish(event)
    assert received == [event]


def test_delivered_with_captured_on_commit_callbacks(
    db, subscriptions, django_capture_on_commit_callbacks
):
    subscriptions("access.granted", record)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        publish(_granted())
    assert received == []  # the test's transaction has not committed
    for callback in callbacks:
        callback()
    assert len(received) == 1


@pytest.mark.django_db(transaction=True)
def test_access_grant_publishes_after_commit(subscriptions):
    """A real service: ``access_grant`` publishes ``access.granted`` once it committed."""
    subscriptions("access.granted", record)
    folder = FolderFactory()
    owner, grantee = UserFactory(), UserFactory()
    FolderAccessFactory(resource=folder, user=owner, role=Role.OWNER)
    access_grant(actor=owner, resource=folder, user=grantee, role=Role.EDITOR)
    [event] = received
    assert isinstance(event, AccessGranted)
    assert (event.actor_id, event.principal_id, event.role) == (owner.pk, grantee.pk, "editor")
    assert (event.resource_type, event.resource_id) == ("access_app.folder", str(folder.pk))


# --- subscribers -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_failing_subscriber_does_not_stop_the_others(subscriptions, caplog):
    subscriptions("access.granted", fail)
    subscriptions("access.granted", "tests.suite.test_events.fail")
    subscriptions("access.granted", record)
    event = _granted()
    with caplog.at_level(logging.ERROR, logger="suite.events"):
        publish(event)
    assert received == [event]
    failures = [r for r in caplog.records if r.getMessage() == "event subscriber failed"]
    assert [r.subscriber for r in failures] == ["tests.suite.test_events.fail"] * 2


@pytest.mark.django_db(transaction=True)
def test_in_task_subscriber_runs_through_celery_with_event_rebuilt_from_json(subscriptions):
    tasks = []

    def on_prerun(sender=None, args=None, **kwargs):
        tasks.append((sender.name, args))

    task_prerun.connect(on_prerun, weak=False)
    try:
        subscriptions("access.granted", "tests.suite.test_events.record_in_task", in_task=True)
        event = _granted()
        with transaction.atomic():
            publish(event)
            assert tasks == []
    finally:
        task_prerun.disconnect(on_prerun)
    [(task_name, args)] = tasks
    assert task_name == "suite.deliver_event"
    assert args[0] == "access.granted"
    assert json.loads(json.dumps(args)) == list(args)  # what a broker can carry
    [rebuilt] = received
    assert rebuilt is not event
    assert rebuilt == event
    assert isinstance(rebuilt, AccessGranted)
    assert isinstance(rebuilt.principal_id, uuid.UUID)
    assert isinstance(rebuilt.occurred_at, dt.datetime)


@pytest.mark.django_db(transaction=True)
def test_failing_in_task_subscriber_does_not_stop_the_others(subscriptions):
    subscriptions("access.granted", "tests.suite.test_events.fail", in_task=True)
    subscriptions("access.granted", record)
    event = _granted()
    publish(event)
    assert received == [event]


def test_in_task_subscriber_must_be_a_dotted_path():
    with pytest.raises(TypeError):
        subscribe("access.granted", record, in_task=True)


@pytest.mark.django_db(transaction=True)
def test_subscribing_twice_delivers_once(subscriptions):
    subscriptions("access.granted", record)
    subscriptions("access.granted", record)
    publish(_granted())
    assert len(received) == 1


@pytest.mark.django_db(transaction=True)
def test_unsubscribed_handler_gets_nothing(subscriptions):
    subscriptions("access.granted", record)
    unsubscribe("access.granted", record)
    publish(_granted())
    assert received == []


# --- registry --------------------------------------------------------------------------------


def test_two_events_under_one_name_raise(registry):
    @register
    class First(PlatformEvent):
        name: ClassVar[str] = "tests.sample_happened"

    class Second(PlatformEvent):
        name: ClassVar[str] = "tests.sample_happened"

    with pytest.raises(TypeError, match="already used"):
        register(Second)
    assert events.event_type("tests.sample_happened") is First


def test_subclass_inheriting_a_registered_name_raises(registry):
    class MoreGranted(AccessGranted):
        pass

    with pytest.raises(TypeError, match="already used"):
        register(MoreGranted)


@pytest.mark.parametrize("name", ["", "granted", "Access.Granted", "access granted", "access.", ".x"])
def test_event_name_must_be_dotted_lowercase(registry, name):
    with pytest.raises(TypeError):
        register(type("Bad", (PlatformEvent,), {"__annotations__": {}, "name": name}))


def test_publishing_an_unregistered_event_raises(registry):
    class Unregistered(PlatformEvent):
        name: ClassVar[str] = "tests.unregistered"

    with pytest.raises(TypeError):
        publish(Unregistered())

    class Subclass(AccessGranted):  # inherits a registered name, is not registered itself
        pass

    with pytest.raises(TypeError):
        publish(Subclass(**_granted().model_dump()))


def test_deliver_of_unknown_event_raises():
    with pytest.raises(LookupError):
        deliver("tests.never_registered", {}, "tests.suite.test_events.record")


def test_event_modules_are_imported_at_startup():
    """A Celery worker that never imported ``suite.access.events`` still knows its events."""
    code = (
        "import django; django.setup(); "
        "from suite.events import event_type; print(event_type('access.granted').__name__)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "suite.settings"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "AccessGranted"


# --- shapes of the access events -------------------------------------------------------------


def test_access_granted_shape():
    event = AccessGranted(
        **COMMON, resource_type="docs_app.document", resource_id="42",
        principal_type="user", principal_id=PRINCIPAL, role="editor",
    )
    assert event.envelope() == {
        "type": "access.granted",
        "data": {
            **COMMON_JSON,
            "resource_type": "docs_app.document",
            "resource_id": "42",
            "principal_type": "user",
            "principal_id": str(PRINCIPAL),
            "role": "editor",
        },
    }


def test_access_changed_shape():
    event = AccessChanged(
        **COMMON, resource_type="drive_app.item", resource_id="7",
        principal_type="team", principal_id=PRINCIPAL, role="reader", previous_role="editor",
    )
    assert event.envelope() == {
        "type": "access.changed",
        "data": {
            **COMMON_JSON,
            "resource_type": "drive_app.item",
            "resource_id": "7",
            "principal_type": "team",
            "principal_id": str(PRINCIPAL),
            "role": "reader",
            "previous_role": "editor",
        },
    }


def test_access_revoked_shape():
    event = AccessRevoked(
        **COMMON, resource_type="chat_app.channel", resource_id="c1",
        principal_type="user", principal_id=PRINCIPAL, previous_role="owner",
    )
    assert event.envelope() == {
        "type": "access.revoked",
        "data": {
            **COMMON_JSON,
            "resource_type": "chat_app.channel",
            "resource_id": "c1",
            "principal_type": "user",
            "principal_id": str(PRINCIPAL),
            "previous_role": "owner",
        },
    }


def test_link_changed_shape():
    event = LinkChanged(
        **COMMON, resource_type="docs_app.document", resource_id="42",
        link_reach="authenticated", link_role="commenter",
    )
    assert event.envelope() == {
        "type": "access.link_changed",
        "data": {
            **COMMON_JSON,
            "resource_type": "docs_app.document",
            "resource_id": "42",
            "link_reach": "authenticated",
            "link_role": "commenter",
        },
    }


def test_access_events_round_trip_through_json():
    for event in (
        _granted(),
        AccessChanged(**{**_granted().model_dump(exclude={"role"}), "role": "reader", "previous_role": "owner"}),
        AccessRevoked(**{**_granted().model_dump(exclude={"role"}), "previous_role": "reader"}),
        LinkChanged(actor_id=None, resource_type="a.b", resource_id="1", link_reach="public", link_role="reader"),
    ):
        payload = json.loads(json.dumps(event.model_dump(mode="json")))
        assert type(event).model_validate(payload) == event


def test_access_event_vocabularies_match_the_access_layer():
    assert set(get_args(RoleSlug)) == set(Role.slugs())
    assert set(get_args(LinkReachValue)) == set(LinkReach.values)


@pytest.mark.parametrize(
    "overrides",
    [{"role": "superuser"}, {"principal_type": "group"}, {"principal_id": "not-a-uuid"}],
)
def test_access_event_refuses_invalid_values(overrides):
    with pytest.raises(ValueError):
        _granted(**overrides)


def test_events_are_immutable():
    event = _granted()
    with pytest.raises(ValueError):
        event.role = "owner"
