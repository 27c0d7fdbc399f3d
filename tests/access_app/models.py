"""A minimal tree of access-controlled folders, used to test the shared access layer the way
every app uses it."""

from __future__ import annotations

import uuid

from django.db import models

from suite.access.models import AccessControlled, ResourceAccess


class Folder(AccessControlled):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(max_length=100)

    class Meta:
        app_label = "access_app"


class FolderAccess(ResourceAccess):
    resource = models.ForeignKey(Folder, on_delete=models.CASCADE, related_name="accesses")

    class Meta(ResourceAccess.Meta):
        app_label = "access_app"
