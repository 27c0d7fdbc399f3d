"""Test settings: the real settings module on real engines, plus a test-only app."""

from tests.engines import configure

configure()

from suite.settings import *  # noqa: E402,F403
from suite.settings import INSTALLED_APPS  # noqa: E402

INSTALLED_APPS = [*INSTALLED_APPS, "tests.access_app"]
# Tasks run in the test process, right where they are enqueued.
CELERY_TASK_ALWAYS_EAGER = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
