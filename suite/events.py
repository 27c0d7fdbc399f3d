"""Platform events: typed, published after commit, delivered to subscribers of any app.

Apps never import each other (see DESIGN.md, dependency rule); they meet here. A producer
declares an event model and publishes it inside its service's transaction::

    @register
    class DocumentShared(PlatformEvent):
        name: ClassVar[str] = "docs.document_shared"
        document_id: uuid.UUID

    publish(DocumentShared(actor_id=actor.id, document_id=doc.id))

and a consumer, in its ``AppConfig.ready()``, subscribes by name (no import of the producer)::

    subscribe("docs.document_shared", handler)              # called in-process after commit
    subscribe("docs.document_shared", "chat_app.tasks.x", in_task=True)  # a Celery task

Nothing is delivered if the transaction rolls back. A failing subscriber is logged and does
not prevent delivery to the others.
"""

from __future__ import annotations

import datetime as dt
import logging
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


@dataclass(frozen=True)
class Subscription:
    handler: Callable[[PlatformEvent], None] | str
    in_task: bool


_subscriptions: dict[str, list[Subscription]] = defaultdict(list)


def register(cls: E) -> E:
    """Class decorator: make an event type known by its name."""
    if not cls.name:
        raise TypeError(f"{cls.__name__} must define a name")
    existing = _registry.get(cls.name)
    if existing is not None and existing is not cls:
        raise TypeError(f"event name {cls.name!r} is already used by {existing.__name__}")
    _registry[cls.name] = cls
    return cls


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
    when there is no transaction)."""
    if event.name not in _registry:
        raise TypeError(f"event {event.name!r} is not registered")
    transaction.on_commit(lambda: dispatch(event), robust=True)


def dispatch(event: PlatformEvent) -> None:
    for subscription in list(_subscriptions.get(event.name, ())):
        if subscription.in_task:
            from suite.tasks import deliver_event

            deliver_event.delay(event.name, event.model_dump(mode="json"), subscription.handler)
            continue
        handler = subscription.handler
        try:
            if isinstance(handler, str):
                handler = import_string(handler)
            handler(event)  # type: ignore[operator]
        except Exception:
            logger.exception("event subscriber failed", extra={"event": event.name})


def deliver(name: str, payload: dict[str, Any], handler_path: str) -> None:
    """Run one task subscriber (called by the Celery task)."""
    event = _registry[name].model_validate(payload)
    import_string(handler_path)(event)
