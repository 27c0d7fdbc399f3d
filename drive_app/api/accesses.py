"""Sharing endpoints of a drive item (folder or file): who has access, grant, change,
revoke or leave.

The platform's endpoints (``suite.access.api.sharing_router``), the same as the documents'
ones: grants on a folder apply to everything below it and show there with
``inherited_from``; items in the trash are not found.
"""

from __future__ import annotations

from drive_app.permissions import access_item
from suite.access.api import sharing_router

router = sharing_router(fetch=access_item, path_param="item_id", tags=["drive"])
