"""Per-person rate limits of actions, for services as well as handlers.

A service has no request, so the limits are keyed by the actor: the same counters as
django-ratelimit's ``key="user"`` (its cache, its fixed windows), without needing a request.
Rates are django-ratelimit's strings, ``"<count>/<period>"`` with the period in ``s``, ``m``,
``h`` or ``d``, optionally multiplied (``"100/6h"``); ``suite.conf.Env.rate`` validates them
when the settings load.
"""

from __future__ import annotations

from typing import Any

from django_ratelimit.core import get_usage

from suite.errors import RateLimited


def limit_actor(*, group: str, actor: Any, rate: str) -> None:
    """Count one action of ``actor`` in ``group``; past ``rate`` raise ``RateLimited``
    (429, ``Retry-After`` the seconds left in the window). The refused attempt counts too,
    so hammering does not shorten the wait."""
    usage = get_usage(
        None, group=group, key=lambda _group, _request: str(actor.pk), rate=rate, increment=True
    )
    if usage is not None and usage["should_limit"]:
        raise RateLimited(headers={"Retry-After": str(max(1, int(usage["time_left"])))})
