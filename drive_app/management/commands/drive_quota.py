"""``suite manage drive_quota``: show or override a user's drive quota.

    suite manage drive_quota alice@example.org                 # usage and quota
    suite manage drive_quota alice@example.org --set 50G       # override (bytes, K/M/G/T)
    suite manage drive_quota alice@example.org --default       # back to DRIVE_DEFAULT_QUOTA_BYTES
    suite manage drive_quota alice@example.org --recount       # recompute usage from versions
"""

from __future__ import annotations

import re
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Sum

from drive_app import quota
from drive_app.models import DriveUsage, FileVersion
from suite.identity.models import User

UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def parse_size(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+)\s*([KMGT]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if not match:
        raise CommandError(f"not a size: {text!r} (examples: 500M, 20G, 1073741824)")
    return int(match.group(1)) * UNITS[match.group(2).upper()]


class Command(BaseCommand):
    help = "Show or override a user's drive quota."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--set", dest="size", help="quota override, e.g. 50G")
        group.add_argument("--default", action="store_true", help="drop the override")
        group.add_argument("--recount", action="store_true", help="recompute usage from stored versions")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(email__iexact=options["email"]).first()
        if user is None:
            raise CommandError(f"no user with the email {options['email']!r}")
        with transaction.atomic():
            usage = quota.usage_of(user.pk)
            if options["size"]:
                DriveUsage.objects.filter(pk=usage.pk).update(quota_bytes=parse_size(options["size"]))
            elif options["default"]:
                DriveUsage.objects.filter(pk=usage.pk).update(quota_bytes=None)
            elif options["recount"]:
                total = FileVersion.objects.filter(item__quota_owner=user).aggregate(n=Sum("charged_bytes"))["n"]
                DriveUsage.objects.filter(pk=usage.pk).update(used_bytes=total or 0)
            usage.refresh_from_db()
        limit = quota.limit_of(usage)
        source = "override" if usage.quota_bytes is not None else "default"
        self.stdout.write(f"{user.email}: {usage.used_bytes} bytes used of {limit} ({source})")
