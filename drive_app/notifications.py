"""Emails of the drive product (sent after commit, in the recipient's language)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_noop

from suite.notifications import send_email

INFECTED_SUBJECT = gettext_noop("A file in your drive was set aside: malware found")


def infected_file(version_id: Any) -> int:
    """Tell the quota owner (the workspace's owner) and the uploader that a file was found
    infected. Returns the number of emails sent."""
    from drive_app.models import FileVersion

    version = FileVersion.objects.select_related("item__quota_owner", "uploaded_by").filter(pk=version_id).first()
    if version is None:
        return 0
    recipients = {u.pk: u for u in (version.item.quota_owner, version.uploaded_by) if u is not None and u.email}
    signature = version.state_reason.partition(":")[2].strip()
    sent = 0
    for user in recipients.values():
        sent += send_email(
            to=user, subject=INFECTED_SUBJECT, template="drive_app/email/infected_file",
            context={"title": version.item.title, "signature": signature},
        )
    return sent
