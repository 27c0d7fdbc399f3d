"""Django authentication backend answering ``user.has_perm(perm, obj)`` from roles.

``settings.AUTHENTICATION_BACKENDS`` lists it before django-guardian's
``ObjectPermissionBackend``; Django asks each backend in turn, so ``has_perm`` is true when the
actor's *role* on the object allows the permission, or when guardian holds an explicit
per-object permission for the user or one of their teams' groups. Both answers come from the
same place every app uses; see docs/decisions/0003-access-layer.md.
"""

from __future__ import annotations

from typing import Any

from suite.access.models import AccessControlled
from suite.access.resolve import effective_role
from suite.access.roles import Perm, role_allows

#: Django's model permission verbs mapped onto our permissions.
CODENAME_VERBS = {
    "view": Perm.VIEW,
    "comment": Perm.COMMENT,
    "change": Perm.EDIT,
    "edit": Perm.EDIT,
    "share": Perm.SHARE,
    "delete": Perm.DELETE,
    "destroy": Perm.DESTROY,
}


def perm_for_codename(obj: AccessControlled, perm: str) -> Perm | None:
    """``"docs_app.change_document"`` on a ``Document`` → ``Perm.EDIT``; ``None`` if the
    permission is not about this object's model."""
    app_label, _, codename = perm.partition(".")
    if app_label != obj._meta.app_label:
        return None
    verb, _, model_name = codename.partition("_")
    if model_name != obj._meta.model_name:
        return None
    return CODENAME_VERBS.get(verb)


class RoleBackend:
    def authenticate(self, request: Any, **credentials: Any) -> None:
        return None

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        if obj is None or not isinstance(obj, AccessControlled):
            return False
        if user_obj is not None and not user_obj.is_active:
            return False
        wanted = perm_for_codename(obj, perm)
        if wanted is None:
            return False
        return role_allows(effective_role(user_obj, obj), wanted)

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if obj is None or not isinstance(obj, AccessControlled):
            return set()
        role = effective_role(user_obj, obj)
        label, model = obj._meta.app_label, obj._meta.model_name
        return {
            f"{label}.{verb}_{model}"
            for verb, wanted in CODENAME_VERBS.items()
            if role_allows(role, wanted)
        }
