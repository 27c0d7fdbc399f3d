"""Receivers connecting the documents product to platform signals.

An invitation becomes an access when its email signs in: ``user_logged_in`` is sent by every
session login (password, and OIDC, which logs a user in right after creating it, so a first
login is covered too). Converting never makes the login fail: an error is logged and the
invitations stay for the next login.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

logger = logging.getLogger(__name__)


@receiver(user_logged_in, dispatch_uid="docs_app.convert_invitations")
def convert_invitations_on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    from docs_app.services.invitations import invitations_convert

    try:
        invitations_convert(user=user)
    except Exception:
        logger.exception("could not convert invitations at login", extra={"user": str(user.pk)})


@receiver(post_save, sender="identity.TeamMembership", dispatch_uid="docs_app.collab_team_joined")
@receiver(post_delete, sender="identity.TeamMembership", dispatch_uid="docs_app.collab_team_left")
def recheck_sessions_on_team_change(sender: Any, instance: Any, **kwargs: Any) -> None:
    """Joining or leaving a team changes roles on the team's documents: open editing
    sessions of that user are re-checked (after commit, on every process)."""
    from docs_app.collab import acl

    user_id = instance.user_id
    transaction.on_commit(lambda: acl.on_users_changed([user_id]), robust=True)


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="docs_app.collab_user_saved")
def recheck_sessions_on_deactivation(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A deactivated account loses its open editing sessions."""
    if instance.is_active:
        return
    from docs_app.collab import acl

    user_id = instance.pk
    transaction.on_commit(lambda: acl.on_users_changed([user_id]), robust=True)
