"""Platform events of the identity layer, published after commit."""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from suite.events import PlatformEvent, register

CredentialChange = Literal[
    "token_revoked", "logout", "backchannel_logout", "password_changed", "deactivated"
]


@register
class CredentialsChanged(PlatformEvent):
    """Credentials of these users may have ended (a token revoked, a session ended, a
    password changed, an account deactivated): whatever holds one of them open, such as a
    websocket, must check it again (``suite.identity.credentials.ended_credentials``)."""

    name: ClassVar[str] = "identity.credentials_changed"
    user_ids: list[uuid.UUID]
    change: CredentialChange


def credentials_changed(user_ids: list[object], change: CredentialChange) -> None:
    """Call in the transaction that ends the credentials: after it commits, open sockets
    are told (:class:`CredentialsChanged`, through the realtime layer) and, before the
    caller answers, the change is serialized with the writes of open sessions
    (``suite.access.epoch``)."""
    from suite.access.epoch import access_changed
    from suite.events import publish

    ids = [uuid.UUID(str(u)) for u in dict.fromkeys(str(u) for u in user_ids)]
    if ids:
        publish(CredentialsChanged(user_ids=ids, change=change))
        access_changed()
