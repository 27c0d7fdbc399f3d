"""The Celery application (``suite worker``, ``suite beat``).

Configured from Django settings (``CELERY_*``). Without ``REDIS_URL``, tasks run in-process
(``task_always_eager``), which is the zero-config default.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "suite.settings")

app = Celery("communs")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(lambda: ["suite", *__import__("django.conf").conf.settings.PRODUCT_MODULES])
