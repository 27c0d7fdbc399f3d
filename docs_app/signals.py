"""Receivers connecting the documents product to platform signals.

An invitation becomes an access when its email signs in: ``user_logged_in`` is sent by every
session login (password, and OIDC, which logs a user in right after creating it, so a first
login is covered too). Converting never makes the login fail: an error is logged and the
invitations stay for the next login.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

logger = logging.getLogger(__name__)


@receiver(user_logged_in, dispatch_uid="docs_app.convert_invitations")
def convert_invitations_on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    from docs_app.services.invitations import invitations_convert

    try:
        invitations_convert(user=user)
    except Exception:
        logger.exception("could not convert invitations at login", extra={"user": str(user.pk)})
