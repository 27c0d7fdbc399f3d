"""Running the periodic tasks in-process when there is no Celery beat (zero-config).

Reads the same ``beat_schedule`` as ``suite beat`` and applies each due task locally, so
purges and cleanups also happen on a single-process install.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.utils import timezone

logger = logging.getLogger(__name__)


class InProcessScheduler:
    def __init__(self, tick: float = 1.0):
        self.tick = tick
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="suite-scheduler", daemon=True)
        self._last_run: dict[str, Any] = {}

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        from celery.schedules import schedule as celery_schedule

        from suite.celery import app

        now = timezone.now()
        for name in app.conf.beat_schedule or {}:
            self._last_run[name] = now
        while not self._stop.wait(self.tick):
            for name, entry in list((app.conf.beat_schedule or {}).items()):
                plan = entry["schedule"]
                if not isinstance(plan, celery_schedule):
                    plan = celery_schedule(plan)
                due, _next = plan.is_due(self._last_run.setdefault(name, timezone.now()))
                if not due:
                    continue
                self._last_run[name] = timezone.now()
                try:
                    app.tasks[entry["task"]].apply(args=entry.get("args", ()), kwargs=entry.get("kwargs", {}))
                except Exception:
                    logger.exception("periodic task failed", extra={"task": entry["task"]})
