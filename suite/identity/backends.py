"""Local password accounts, only when ``SUITE_LOCAL_ACCOUNTS`` is on."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend


class LocalPasswordBackend(ModelBackend):
    def authenticate(self, request: Any, username: str | None = None, password: str | None = None, **kwargs: Any) -> Any:
        if not settings.SUITE_LOCAL_ACCOUNTS:
            return None
        email = (username or kwargs.get("email") or "").strip().lower()
        user = super().authenticate(request, username=email, password=password, **kwargs)
        if user is not None and user.is_bot:
            return None
        return user

    # Object permissions are answered by the access layer and guardian, not here.
    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        if obj is not None:
            return False
        return super().has_perm(user_obj, perm, obj)
