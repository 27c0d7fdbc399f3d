"""Platform events: typed, published after commit, delivered to subscribers of any app.

Apps never import each other (see DESIGN.md, dependency rule); they meet here. A producer
declares its event models in ``<app>/events.py`` (imported at startup by
``AccessConfig.ready``, also in Celery workers) and publishes inside its service's
transaction::

    @register
    class DocumentShared(PlatformEvent):
        name: ClassVar[str] = "docs.document_shared"
        document_id: uuid.UUID

    publish(DocumentShared(actor_id=actor.id, document_id=doc.id))

and a consumer, in its ``AppConfig.ready()``, subscribes by name (no import of the producer)::

    subscribe("docs.document_shared", handler)              # called in-process after commit
    subscribe("docs.document_shared", "chat_app.tasks.x", in_task=True)  # a Celery task

Handlers read the event's fields (``event.document_id``) or its JSON form
(``event.envelope()``). In-process handlers run in the publishing process right after the
commit and must be quick (a websocket push, a cache bust); anything slow or that must be
retried is an ``in_task`` subscriber, which gets the event rebuilt from JSON and must be
idempotent. Nothing is delivered if the transaction rolls back. A failing subscriber is
logged and does not prevent delivery to the others.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from pydantic import BaseModel, ConfigDict, Field

logger = logging.getLogger(__name__)


class PlatformEvent(BaseModel):
    """Base of every platform event. Subclasses set a unique dotted ``name``."""

    model_config = ConfigDict(frozen=True)

    name: ClassVar[str] = ""
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    occurred_at: dt.datetime = Field(default_factory=timezone.now)
    actor_id: uuid.UUID | None = None

    def envelope(self) -> dict[str, Any]:
        """JSON-ready ``{"type": name, "data": {...}}``, the shape sent to websockets."""
        return {"type": self.name, "data": self.model_dump(mode="json")}


E = TypeVar("E", bound=type[PlatformEvent])

_registry: dict[str, type[PlatformEvent]] = {}
_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


@dataclass(frozen=True)
class Subscription:
    handler: Callable[[PlatformEvent], None] | str
    in_task: bool


_subscriptions: dict[str, list[Subscription]] = defaultdict(list)


def register(cls: E) -> E:
    """Class decorator: make an event type known by its name (``<app>.<what_happened>``,
    lowercase). Two classes may not share a name; importing the same definition again (a
    module reload) is harmless."""
    if not _NAME.match(cls.name or ""):
        raise TypeError(
            f"{cls.__name__}.name must be a dotted lowercase name like 'docs.document_shared', "
            f"not {cls.name!r}"
        )
    existing = _registry.get(cls.name)
    if existing is not None and _qualified(existing) != _qualified(cls):
        raise TypeError(f"event name {cls.name!r} is already used by {_qualified(existing)}")
    _registry[cls.name] = cls
    return cls


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def event_type(name: str) -> type[PlatformEvent]:
    return _registry[name]


def subscribe(
    name: str, handler: Callable[[PlatformEvent], None] | str, *, in_task: bool = False
) -> None:
    """Call ``handler`` with each event called ``name`` once its transaction has committed.

    With ``in_task=True``, ``handler`` is the dotted path of a function run by a Celery
    worker (retried, off the request path); it receives the event rebuilt from JSON.
    """
    if in_task and not isinstance(handler, str):
        raise TypeError("in_task subscribers are given as a dotted path")
    subscription = Subscription(handler, in_task)
    if subscription not in _subscriptions[name]:
        _subscriptions[name].append(subscription)


def unsubscribe(name: str, handler: Callable[[PlatformEvent], None] | str) -> None:
    _subscriptions[name] = [s for s in _subscriptions[name] if s.handler != handler]


def publish(event: PlatformEvent) -> None:
    """Deliver ``event`` to its subscribers after the current transaction commits (at once
    when there is no transaction; never if it rolls back)."""
    if _registry.get(event.name) is not type(event):
        # An unregistered subclass would be rebuilt as its parent for task subscribers.
        raise TypeError(f"event class {type(event).__name__} is not registered")
    transaction.on_commit(lambda: dispatch(event), robust=True)


def dispatch(event: PlatformEvent) -> None:
    """Deliver ``event`` now, to each subscriber in turn; one failing (or a broker that
    cannot take a task) is logged and does not stop the others."""
    for subscription in list(_subscriptions.get(event.name, ())):
        handler = subscription.handler
        try:
            if subscription.in_task:
                from suite.tasks import deliver_event

                deliver_event.delay(event.name, event.model_dump(mode="json"), handler)
                continue
            if isinstance(handler, str):
                handler = import_string(handler)
            handler(event)  # type: ignore[operator]
        except Exception:
            logger.exception(
                "event subscriber failed",
                extra={"event": event.name, "event_id": str(event.event_id),
                       "subscriber": _handler_name(subscription.handler)},
            )


def _handler_name(handler: Callable[[PlatformEvent], None] | str) -> str:
    if isinstance(handler, str):
        return handler
    return f"{getattr(handler, '__module__', '?')}.{getattr(handler, '__qualname__', handler)}"


def deliver(name: str, payload: dict[str, Any], handler_path: str) -> None:
    """Run one task subscriber (called by the Celery task) with the event rebuilt from its
    JSON form. Event modules are imported at startup (``AccessConfig.ready``), so a worker
    knows every event an enabled app can publish."""
    try:
        event_class = _registry[name]
    except KeyError:
        raise LookupError(f"unknown event {name!r}: is the app that defines it enabled?") from None
    event = event_class.model_validate(payload)
    import_string(handler_path)(event)
