"""The one access model of Communs: roles, grants, inheritance, link reach.

Apps build on it like this::

    class Folder(AccessControlled):           # path, depth, link_reach, link_role
        ...

    class FolderAccess(ResourceAccess):       # user | team, role
        resource = models.ForeignKey(Folder, on_delete=models.CASCADE, related_name="accesses")

    folder = access_object(Folder.objects.all(), actor, folder_id, need=Perm.EDIT)
    page = visible_to(Folder.objects.all(), actor)      # one query, role annotated

Importing models from here is lazy so ``suite.access`` can be imported before apps load.
"""

from suite.access.roles import LinkReach, Perm, Role, abilities_for, role_allows

__all__ = ["LinkReach", "Perm", "Role", "abilities_for", "role_allows"]
