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
    """Publish :class:`CredentialsChanged` (after commit); call in the transaction that
    ends the credentials. The access layer serializes it with the writes of open sessions
    (``suite.access.epoch``) before the caller answers, the realtime layer closes the
    sockets."""
    from suite.events import publish

    ids = [uuid.UUID(str(u)) for u in dict.fromkeys(str(u) for u in user_ids)]
    if ids:
        publish(CredentialsChanged(user_ids=ids, change=change))
